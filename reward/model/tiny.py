"""Build a tiny, randomly initialised BERT reward model on disk, with no network.

It has the real model's shape (``BertForSequenceClassification`` with one output
logit, a cased WordPiece tokenizer, 512 positions), only much smaller, so the
tests, the benchmarks' quick mode and offline tries of the app load it through
exactly the same code path as ``nicholasKluge/RewardModel``. Its scores mean
nothing: compare them with each other, never with literals.
"""

from __future__ import annotations

from pathlib import Path

# A little text in the register the model sees, plus accents, CJK and emoji so
# that unicode input maps to real tokens rather than only [UNK].
_CORPUS = """
Why is AI Ethics important? The field of AI Ethics delves deeply into the ethical
considerations that arise with respect to AI systems. Who cares about AI Ethics?
What is the capital of France? Paris is the capital and largest city of France.
How do I bake bread? Mix flour, water, salt and yeast, knead, let it rise, then bake.
Explain photosynthesis to a child. Plants use sunlight to turn air and water into food.
I don't know. Figure it out yourself. That is a great question, thank you for asking!
Numbers 0 1 2 3 4 5 6 7 8 9 10 100 1000 2024 3.14 - , . ; : ! ? ' " ( ) [ ] / % & @ #
Café naïve façade résumé Ünïcödé Straße 東京 こんにちは 你好 Привет مرحبا 🙂 🚀 ✓
"""


def train_wordpiece_tokenizer(corpus, vocab_size: int):
    """A cased WordPiece tokenizer trained on ``corpus`` (an iterable of texts), with BERT's
    ``[CLS] A [SEP] B [SEP]`` template, as a ``BertTokenizerFast``."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import BertTokenizerFast

    special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=False)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    trainer = trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=special, show_progress=False)
    tok.train_from_iterator(corpus, trainer=trainer)
    cls_id, sep_id = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)],
    )
    return BertTokenizerFast(tokenizer_object=tok, do_lower_case=False, model_max_length=512)


def save_random_reward_model(folder: str | Path, tokenizer, *, seed: int = 0, **config) -> Path:
    """Save ``tokenizer`` and a randomly initialised one-logit BERT reward model (``BertConfig(**config)``)."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer.save_pretrained(folder)
    torch.manual_seed(seed)
    config = BertConfig(num_labels=1, id2label={0: "REWARD"}, label2id={"REWARD": 0}, **config)
    BertForSequenceClassification(config).eval().save_pretrained(folder, safe_serialization=True)
    return folder


def build_tiny_reward_model(folder: str | Path, *, seed: int = 0, vocab_size: int = 600) -> Path:
    """Write a tiny BERT reward model and its tokenizer into ``folder``.

    Args:
        folder: where to save; created if missing.
        seed: torch seed for the random weights. The trained vocabulary can differ by a token or two
            between builds, so two builds need not score alike: compare scores within one build.
        vocab_size: upper bound for the trained WordPiece vocabulary.

    Returns:
        The folder, ready for ``load_reward_model(folder)``.
    """
    tokenizer = train_wordpiece_tokenizer(_CORPUS.split("\n"), vocab_size)
    return save_random_reward_model(
        folder, tokenizer, seed=seed, vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2,
        num_attention_heads=2, intermediate_size=64, max_position_embeddings=512,
        # Wider than BERT's 0.02 so that scores spread over a few units, far above
        # float noise, and rankings are decisive.
        initializer_range=0.5,
    )
