"""The README's pictures, taken in chromium from the real app on a stand-in model that reads words.

The tiny test model's vocabulary splits words into letters, which makes a poor picture of "what the model read".
The stand-in here is BERT-shaped with a cased WordPiece vocabulary of 8,000 pieces trained on the shared HH-RLHF
text (as ``bench/benchmark.py`` trains its BERT-base-sized model's), so it reads whole words; its weights are
random, so its scores are random too, and the README says so under each picture.

    python docs/screenshots.py     # writes assets/screenshot.png, why.png, trust.png, pair.png, evaluate-slices.png

Needs Debian's chromium (``/usr/bin/chromium``) and the shared data folder beside the project.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from benchmark import CACHE, load_dialogues  # noqa: E402
from load import app_running  # noqa: E402

ASSETS = ROOT / "assets"
STAND_IN = CACHE / "word-reader"
BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync"]


def stand_in(data: Path) -> Path:
    """The stand-in model's folder, built once into bench/.cache."""
    from reward.model.tiny import save_random_reward_model, train_wordpiece_tokenizer

    if (STAND_IN / "model.safetensors").is_file():
        return STAND_IN
    dialogues, _ = load_dialogues(data)
    tokenizer = train_wordpiece_tokenizer([p + "\n" + r for p, r in dialogues], 8000)
    return save_random_reward_model(STAND_IN, tokenizer, seed=3, vocab_size=tokenizer.vocab_size, hidden_size=128,
                                    num_hidden_layers=2, num_attention_heads=2, intermediate_size=256,
                                    initializer_range=0.1)


def take(url: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    examples = json.loads((ASSETS / "examples.json").read_text())["example_sets"]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=BROWSER_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900}, device_scale_factor=1)
        page.goto(url)
        page.locator("#score-btn").wait_for()

        # The page after scoring three answers.
        australia = next(ex for ex in examples if "Australia" in ex["title"])
        page.get_by_role("button", name=australia["title"]).click()
        expect(page.locator("#prompt textarea")).to_have_value(australia["prompt"])
        page.locator("#score-btn").click()
        expect(page.locator("#win-matrix svg.marks, #win-matrix canvas").first).to_be_visible()
        page.wait_for_timeout(800)  # the bar chart's transition
        page.evaluate("window.scrollTo(0, 0)")
        bottom = page.locator("#win-matrix").bounding_box()
        page.screenshot(path=str(ASSETS / "screenshot.png"), full_page=True,
                        clip={"x": 0, "y": 0, "width": 1280, "height": bottom["y"] + bottom["height"] + 16})

        # The card's Bad Response, explained: every part filled, the token detail too.
        card = examples[0]
        page.get_by_role("button", name=card["title"]).click()
        expect(page.locator("#prompt textarea")).to_have_value(card["prompt"])
        page.locator("#score-btn").click()
        expect(page.locator('#ranking [data-testid="cell-1-0"]')).to_have_text("2")
        bad_row = 0 if "Who cares" in page.locator('#ranking [data-testid="cell-0-5"]').inner_text() else 1
        page.locator(f'#ranking [data-testid="cell-{bad_row}-1"]').click()
        expect(page.locator("#probes")).to_contain_text("upper-cased")
        page.locator("#why-attribute-btn").click()
        expect(page.locator("#why-attribution-note")).to_contain_text("off by")
        page.wait_for_timeout(800)
        page.locator("#why-panel").screenshot(path=str(ASSETS / "why.png"))

        # The ranking with its win matrix, above the probes (two parts of the page at one moment).
        page.locator("#ranking").scroll_into_view_if_needed()
        scrolled = page.evaluate("window.scrollY")
        top, bottom = page.locator("#ranking").bounding_box(), page.locator("#win-matrix").bounding_box()
        parts = [ASSETS / "trust-matrix.tmp.png", ASSETS / "trust-probes.tmp.png"]
        page.screenshot(path=str(parts[0]), full_page=True,
                        clip={"x": top["x"] - 8, "y": top["y"] + scrolled - 8, "width": top["width"] + 16,
                              "height": bottom["y"] + bottom["height"] - top["y"] + 16})
        page.locator("#probes-panel").screenshot(path=str(parts[1]))
        stacked(parts, ASSETS / "trust.png")
        pair_pictures(page, card)
        slices_picture(page)
        browser.close()


def pair_pictures(page, card: dict) -> None:
    """Why A over B on the card example (scored already): the pair view with a flip found, and a what-if edit of
    the Bad Response; the two panels stacked into assets/pair.png."""
    from playwright.sync_api import expect

    page.locator("#pair-btn").click()
    expect(page.locator("#pair-summary")).to_contain_text("Margin", timeout=120_000)
    page.locator("#flip-unit").get_by_text("word").click()
    page.locator("#flip-btn").click()
    expect(page.locator("#flip-result")).to_contain_text("texts scored", timeout=120_000)
    page.locator("#what-if-pick input").click()
    page.get_by_role("option", name=re.compile(r"Response 2 \(")).click()
    bad = card["responses"][1]
    page.locator("#what-if-edit textarea").fill(bad.replace("bitching about", "asking about"))
    page.locator("#what-if-btn").click()
    expect(page.locator("#what-if-result")).to_contain_text("a change of", timeout=120_000)
    parts = [ASSETS / "pair-view.tmp.png", ASSETS / "pair-whatif.tmp.png"]
    page.locator("#pair-view").screenshot(path=str(parts[0]))
    page.locator("#what-if").screenshot(path=str(parts[1]))
    stacked(parts, ASSETS / "pair.png")


def slices_picture(page) -> None:
    """The Evaluate tab on the sample pairs by category: the summary, the figures per slice and their chart."""
    from playwright.sync_api import expect

    page.get_by_role("tab", name="Evaluate", exact=True).click()
    page.locator("#eval-sample-sliced-btn").click()
    expect(page.locator("#eval-slices-caption")).to_contain_text("How to read it", timeout=120_000)
    expect(page.locator("#eval-slice-chart .vega-embed").locator("canvas, svg.marks").first).to_be_visible()
    page.locator("#eval-summary").scroll_into_view_if_needed()
    scrolled = page.evaluate("window.scrollY")
    top, bottom = page.locator("#eval-summary").bounding_box(), page.locator("#eval-slices-caption").bounding_box()
    page.screenshot(path=str(ASSETS / "evaluate-slices.png"), full_page=True,
                    clip={"x": 0, "y": top["y"] + scrolled - 12, "width": page.viewport_size["width"],
                          "height": bottom["y"] + bottom["height"] - top["y"] + 24})


def stacked(parts: list[Path], destination: Path) -> None:
    """The pictures ``parts``, one above the other with a white gap, saved as ``destination``; the parts removed."""
    from PIL import Image

    images = [Image.open(part).convert("RGB") for part in parts]
    picture = Image.new("RGB", (max(i.width for i in images), sum(i.height for i in images) + 12 * (len(parts) - 1)),
                        "white")
    top = 0
    for image in images:
        picture.paste(image, (0, top))
        top += image.height + 12
    picture.save(destination)
    for part in parts:
        part.unlink()


def main() -> int:
    folder = stand_in(ROOT.parent / "shared" / "data")
    with app_running("screenshots", str(folder)) as (_, url):
        take(url)
    print(f"wrote {', '.join(str((ASSETS / n).relative_to(ROOT)) for n in ('screenshot.png', 'why.png', 'trust.png', 'pair.png', 'evaluate-slices.png'))}"
          f" from the stand-in model in {folder.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
