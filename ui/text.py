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


# -- the Evaluate tab's error analysis

EVAL_SAMPLE_SLICED = "Try the sample pairs by category"
EVAL_SAMPLE_BEST_OF_N = "Try a best-of-N sample"
EVAL_BEST_OF_N_NOTE = ("A set counts as right when its chosen answer scored strictly above every rejected one (a tie "
                       "is not a win). The pairwise accuracy counts each (chosen, rejected) pair on its own; the "
                       "margins, the charts and the pair tables below are over those pairs.")
EVAL_SLICES_LABEL = "By {column}: {count} slices, largest first"
EVAL_SLICES_CAPTION = ("How to read it: one row per slice, largest first. The dot is the model's accuracy there and "
                       "its bar the 95% bootstrap interval (wide on a small slice); the red tick is what always "
                       "picking the longer answer scores there. Where the dot is not clearly right of its tick, "
                       "length alone judges that slice as well as the model.")
EVAL_SLICES_CAPTION_SETS = ("How to read it: one row per slice, largest first; n counts sets and the accuracy is "
                            "best-of-N (the chosen answer above every rejected one). The dot is that accuracy and its "
                            "bar the 95% bootstrap interval; the red tick is what always picking the longer answer "
                            "scores; *pairs* and *pairwise accuracy* count each (chosen, rejected) pair (no ECE per "
                            "set: one sigmoid is not the chance of beating several answers).")
EVAL_WRONG_IN = " in *{slice}*"
EVAL_WRONG_NOTE = ("**{count:,} wrong pair{s}**{where} (the chosen answer scored at or below the rejected one; of "
                   "{total:,}), in file order: click a row to see the pair in full below.")
EVAL_WRONG_NONE = "**No wrong pair**{where}: the model scored every chosen answer above its rejected one."
EVAL_PAIR_EMPTY = ("Click a row of the worst-judged pairs or of the wrong pairs to see that pair in full here, open "
                   "it in Compare, or label it.")
EVAL_PAIR_HEADING = ("**Row {row}**{of_set}{where} · chosen scored **{chosen}**, rejected **{rejected}** · margin "
                     "**{margin}**: {verdict}")
EVAL_PAIR_OF_SET = " (one pair of its set)"
EVAL_PAIR_SLICE = " · slice *{slice}*"
EVAL_PAIR_RIGHT = "the model got it right."
EVAL_PAIR_WRONG = "the model got it wrong."
EVAL_PAIR_TIE = "a tie, which counts as wrong."
EVAL_LABEL_PICK = "Pick your verdict on the pair first (one of the four), then press **Save label**."
EVAL_LABEL_SAVED = "Saved: row {row} is labelled **{label}**."
EVAL_LABEL_KEPT = "Labelled **{label}** before: saving again replaces it."
EVAL_LABELS_EMPTY = ("**Labels.** None yet for this file: click a pair, pick your verdict and press **Save label**. "
                     "Labels stay in this browser (a reload keeps them, a restart of the server does not) and "
                     "download as CSV or JSON lines.")
EVAL_LABELS_NOTE = ("**Labels.** {count:,} pair{s} of this file labelled, kept in this browser: a reload and a new "
                    "evaluation of the same file show them, until the server restarts, so download them to keep them. "
                    "The downloads carry each pair, its scores and the label; "
                    "`python -m reward evaluate FILE --labels LABELS` reads them back.")
EVAL_LABELS_SETS = ("Labels are for pair files (one chosen and one rejected answer a row): this file holds best-of-N "
                    "sets, whose pairs share a row.")
