"""The model card's scoring code, one pair at a time: the independent reference for parity tests."""

import torch


def card_score(tokenizer, model, prompt: str, response: str, max_length: int = 512) -> tuple[float, int]:
    """Score exactly as the model card's Usage section does; returns (score, tokens read)."""
    tokens = tokenizer(prompt, response, truncation=True, max_length=max_length, return_token_type_ids=False,
                       return_tensors="pt", return_attention_mask=True)
    with torch.no_grad():
        score = model(**tokens)[0].item()
    return score, tokens["input_ids"].shape[1]
