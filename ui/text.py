"""The words the page shows, in one place so they can be edited without touching the layout."""

TITLE = "Reward Model Explorer"

TAGLINE = "See what a reward model thinks of candidate answers to a prompt."

EXPLAINER = """
A **reward model** reads a prompt with one candidate response and returns a single number, the
*reward*: the higher, the better it judges the response. It is the judge that RLHF uses to teach
chat models which answers people prefer. Write a prompt and a few candidate responses (or load an
example) and press **Score** (or Ctrl+Enter). **Reading the scores:** a reward is a raw logit, so
only *differences* between responses to the same prompt mean something: a gap of 1 gives the better
response a 73% chance of being preferred, a gap of 3 about 95%, and the *Chance preferred over #1*
column shows that chance against the top response. The model reads at most the first {max_length} tokens of
a prompt and response together; longer pairs are cut and marked ✂.
"""

FOOTER = """
Scores come from the model as it is: a reward model has blind spots and biases of its own, so
treat its ranking as its opinion, not as the truth. API: `POST /score` through `gradio_client`
(see *Use via API* below).
"""

CARD_ACCURACY = ("For scale: the model card reports 52.61% for `nicholasKluge/RewardModel` on WebGPT comparisons.")
"""Shown under an evaluation only when the loaded model is the card's own."""

WIN_MATRIX_CAPTION = ("How to read it: each cell is the model-implied chance that the **row's** response is preferred "
                      "over the **column's**, sigmoid(row reward − column reward); rows and columns in rank order, so "
                      "the top row is the best response's. A response against itself (the diagonal) shows —.")

PROBES_INTRO = ("### Probes\nThe chosen response scored again after edits that a sound judge would mostly ignore "
                "or punish, biggest change first. *Change* is the probe's reward minus the original's; a probe "
                "whose change goes against what a sound judge would do is flagged ⚠.")

CARD_CHECK = ("**The model card's own numbers** ({source}): the card's scores for its example beside this "
              "run's; they agree when within {within}.")

# -- what an empty panel says: one line on what to do to fill it

RANKING_EMPTY = ("Write a prompt and two or more responses (or try an example), then press **Score**: the ranking, "
                 "a bar chart and the win matrix appear here.")
WHY_EMPTY = ("Pick a response above, or click its row in the ranking, to see which sentences and tokens move its "
             "reward and how it holds up under probes.")
BATCH_EMPTY = ("Upload a file and press **Score file**: a summary, a preview, the score histogram and the scored "
               "file to download appear here.")
EVALUATE_EMPTY = ("Upload preference pairs (or try the sample pairs) and press **Evaluate**: the accuracy, the "
                  "margins, the calibration and length charts and the worst-judged pairs appear here.")
MODELS_EMPTY = "Write a prompt and responses, then press **Score with every model**: the rankings appear here."
PAIR_EMPTY = ("Pick two responses as A and B (the top two are picked for you) and press **Compare A and B**: their "
              "scores, the chance the model prefers A, a word diff and each word's push appear here.")
PAIR_ONE = "Score at least two responses to compare a pair."
WHATIF_EMPTY = ("Change the text under **Your edit** and press **Score the edit**: its score, the change and its "
                "new rank appear here, and each edit tried is kept in a table below.")

# -- how to read the pair view

PAIR_WORDS = ("Each word's colour is its integrated-gradients push on its own response's reward (WordPiece pieces "
              "summed into words): red raises the reward, purple lowers it.")
FLIP_INTRO = ("**The smallest edit that flips the verdict.** Take out of A the fewest sentences (or words) that put "
              "it at or below B (or above B, when B is ahead): the search scores A without each part, then takes "
              "out the parts that move A towards B, furthest first, scoring A again after each, until the verdict "
              "flips or its budget is spent.")
