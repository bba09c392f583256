"""What a newcomer tripped on in the prompt and match panels (issue 12, items 2, 5, 6 and 11), in a real browser:
a second Generate while a search runs is refused with a visible message (not silently dropped); a failed run
clears this run's output and says so in the progress line, with no error pill over the text; a 5,000-character
prompt is cut with a word about it, its reading is not repeated, and its name is short; the scorer badge is one
line with a details toggle."""
from __future__ import annotations

import re

import pytest
from test_studio_browser import open_studio
from test_prompt_browser import typed

TIMEOUT = 120_000  # ms: the first search of a fresh server may still wait for the scorer and its compilation
VIEWPORT = (1440, 900)


@pytest.fixture(scope="module")
def studio(studio_server):
    import os

    saved = os.environ.pop("SYNTH_STUDIO_CLAP", None)  # no CLAP weights here: the badge must say why
    yield studio_server
    if saved is not None:
        os.environ["SYNTH_STUDIO_CLAP"] = saved


def prompt_box(page):
    return page.locator("#prompt-text textarea, #prompt-text input")


def progress(page) -> str:
    return page.locator("#prompt-progress [data-testid=markdown]").inner_text()


def generate(page, prompt: str):
    prompt_box(page).fill(prompt)
    page.locator("#prompt-generate").click()


def result_labels(page) -> list[str]:
    return page.locator("#prompt-results label").all_inner_texts()


def shot(page, path, elem_id: str):
    """A viewport screenshot with ``elem_id`` in view (what the user looks at)."""
    page.locator(f"#{elem_id}").scroll_into_view_if_needed()
    page.screenshot(path=str(path))


def error_pills(page, elem_id: str) -> int:
    """Gradio's status tracker shows a red "Error" label over a component whose event failed."""
    return page.locator(f"#{elem_id} .error").count()


def test_generate_while_a_search_runs_is_refused_with_a_message(page, studio, artifacts):
    url, _ = studio
    open_studio(page, url)
    page.locator("#prompt-budget").get_by_text("paper", exact=True).click()  # 300 generations: still running later
    generate(page, "laser zap")
    page.locator("#prompt-progress").get_by_text(re.compile(r"generation \d+ of 300")).wait_for()

    generate(page, "deep sub bass rumble")
    toast = page.get_by_text("The search for “laser zap” is still running, so Generate for “deep sub bass rumble” "
                             "was not started")
    toast.wait_for(timeout=20_000)
    shot(page, artifacts / "30-prompt-second-generate-refused.png", "prompt-progress")
    assert re.search(r"generation \d+ of 300", progress(page))  # the first search goes on, its progress shown
    assert error_pills(page, "prompt-progress") == 0  # no red label over that progress line

    page.locator("#prompt-cancel").click()
    page.locator("#prompt-progress").get_by_text(re.compile(r"^Stopped early; kept the best so far")).wait_for()
    kept = result_labels(page)  # how many distinct sounds it had found depends on how far it got
    assert kept and all(label.startswith(f"{rank}. laser zap · score ") for rank, label in enumerate(kept, 1))

    # Once it has stopped, Generate runs the prompt in the box.
    page.locator("#prompt-budget").get_by_text("quick", exact=True).click()
    page.locator("#prompt-generate").click()
    page.locator("#prompt-progress").get_by_text(re.compile(r"^Done: 3 results")).wait_for()
    labels = result_labels(page)
    assert [label.split(" · ")[0] for label in labels] == (
        ["1. deep sub bass rumble", "2. deep sub bass rumble", "3. deep sub bass rumble"]
        + [label.split(" · ")[0] for label in kept])


def test_a_failed_search_clears_its_output_and_says_so_without_a_pill(page, studio, artifacts):
    url, _ = studio
    open_studio(page, url)
    generate(page, "short bright pluck")
    page.locator("#prompt-progress").get_by_text(re.compile(r"^Done: 3 results")).wait_for()
    assert page.locator("#prompt-understood").inner_text().startswith("Understood: short")
    assert page.locator("#prompt-audio a[data-testid=download-link]").count() == 1

    page.locator("#prompt-constraints").get_by_text("Constraints").first.click()
    typed(page, "#prompt-pitch", "H2")
    page.locator("#prompt-generate").click()
    page.locator("#prompt-progress").get_by_text("✗ Failed: pitch 'H2' is not a note").wait_for()
    page.get_by_text("pitch 'H2' is not a note").first.wait_for()  # the toast says it too
    shot(page, artifacts / "31-prompt-failed-run.png", "prompt-progress")
    assert progress(page).startswith("✗ Failed: pitch 'H2' is not a note")
    assert page.locator("#prompt-understood").inner_text().strip() == ""  # the last run's reading is gone
    assert page.locator("#prompt-audio a[data-testid=download-link]").count() == 0  # and its sound
    assert error_pills(page, "prompt-progress") == 0
    assert len(result_labels(page)) == 3  # earlier results stay listed

    # The panel stays usable: a good run replaces the failure line.
    typed(page, "#prompt-pitch", "")
    page.locator("#prompt-generate").click()
    page.locator("#prompt-progress").get_by_text(re.compile(r"^Done: 3 results")).wait_for()
    assert error_pills(page, "prompt-progress") == 0


def test_a_failed_match_says_so_in_its_progress_line_without_a_pill(page, studio, artifacts):
    url, _ = studio
    open_studio(page, url)
    page.get_by_role("tab", name="Match a sound").click()
    page.locator("#match-run").click()
    page.locator("#match-progress").get_by_text("✗ Failed: upload a sound or record one first").wait_for()
    shot(page, artifacts / "32-match-failed-run.png", "match-progress")
    assert error_pills(page, "match-progress") == 0


def test_a_very_long_prompt_is_cut_with_a_word_read_once_and_named_short(page, studio, artifacts):
    url, _ = studio
    open_studio(page, url)
    long_prompt = ("laser zap " * 500).strip()  # 4,999 characters
    prompt_box(page).fill(long_prompt)
    assert len(prompt_box(page).input_value()) == len(long_prompt)  # the box keeps what was pasted
    page.locator("#prompt-generate").click()
    page.locator("#prompt-progress").get_by_text(re.compile(r"^Done: ")).wait_for()
    understood = page.locator("#prompt-understood").inner_text()
    shot(page, artifacts / "33-prompt-long.png", "prompt-understood")
    assert re.search(r"Prompt cut: it was 4,999 characters long; the search reads its first 49\d", understood), \
        understood
    reading = understood.split("Understood:")[1]
    assert reading.count("laser") == 1 and reading.count("zap") == 1 and "(×" in reading, reading
    name = page.locator("#prompt-name textarea, #prompt-name input").input_value()
    assert name == "laser zap laser zap laser zap laser zap"
    assert result_labels(page)[0].startswith("1. laser zap laser zap laser zap laser zap… · score ")


def test_the_scorer_badge_is_one_line_with_a_details_toggle(page, studio, artifacts):
    url, _ = studio
    open_studio(page, url)
    badge = page.locator("#prompt-scorer")
    badge.get_by_text("Offline word scorer — CLAP not downloaded").wait_for()
    assert badge.inner_text().strip() == "Offline word scorer — CLAP not downloaded (details)"
    box = badge.bounding_box()
    assert box["height"] < 32, box  # one line at 1440 px
    shot(page, artifacts / "34-prompt-badge.png", "prompt-scorer")

    badge.get_by_text("(details)").click()
    badge.get_by_text("To use CLAP").wait_for()
    details = badge.inner_text()
    assert "HF_HUB_OFFLINE is set" in details and "requirements.txt" in details and "SYNTH_STUDIO_CLAP" in details
    shot(page, artifacts / "35-prompt-badge-details.png", "prompt-scorer")
