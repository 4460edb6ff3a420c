"""What the learner reads, in both languages: a chapter check's three verdicts and setup()'s banner are
Chinese with COURSE_LANG=zh and exactly today's English without it."""

import math
import platform

import pytest
import torch

from course_lib import runtime
from course_lib.exercises import ch00

HINT = "order does not matter: it is a binomial coefficient, math.comb(number_of_characters, 5)"
RIGHT = math.comb(10, 5)  # 252 distinct 5-way tasks out of 10 characters


def verdicts(capsys) -> list[str]:
    """The output of Exercise 0.3's check for no answer, a wrong answer and the right one."""
    outputs = []
    for answer, expected in [(None, False), (250, False), (RIGHT, True)]:
        assert ch00.check_episode_count(answer, num_classes=10, n_way=5) is expected
        outputs.append(capsys.readouterr().out)
    return outputs


def banner(tmp_path, monkeypatch) -> str:
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "mirror"))
    info = runtime.RuntimeInfo(device=torch.device("cpu"), budget="smoke", seed=3,
                               data_dir=runtime.data_dir(), threads=1)
    return runtime.banner(info)


def test_english_is_unchanged_without_course_lang(monkeypatch, capsys, tmp_path):
    monkeypatch.delenv("COURSE_LANG", raising=False)
    not_attempted, wrong, right = verdicts(capsys)
    assert not_attempted == (
        "… Exercise 0.3: not attempted yet (the answer is still None or the function still a stub). "
        f"Fill in the cell above and run it again.\n  Hint: {HINT}\n")
    assert wrong == ("✗ Exercise 0.3: your answer is 250, which is not within the tolerance (rtol=0, atol=0.5) "
                     f"of the expected value\n  Hint: {HINT}\n")
    assert right == "✓ Correct! Exercise 0.3 — 252 distinct 5-way tasks\n"
    cores = runtime.available_cores()
    more = f" (more: COURSE_THREADS={cores} make lab)" if cores > 1 else ""
    assert banner(tmp_path, monkeypatch) == (
        f"course_lib | Python {platform.python_version()} | torch {torch.__version__} | device cpu | "
        f"budget smoke | seed 3\nthreads: torch uses 1 of {cores} CPU cores{more} | data: $COURSE_DATA_DIR/")


@pytest.mark.parametrize("english", ["Exercise", "Hint", "Correct", "not attempted", "answer", "distinct"])
def test_chinese_verdicts_with_course_lang_zh(monkeypatch, capsys, english):
    monkeypatch.setenv("COURSE_LANG", "zh")
    not_attempted, wrong, right = verdicts(capsys)
    assert not_attempted.startswith("… 练习 0.3：尚未作答") and "\n  提示：" in not_attempted
    assert "math.comb(number_of_characters, 5)" in not_attempted  # code stays as it is
    assert wrong.startswith("✗ 练习 0.3：你的答案是 250") and "\n  提示：" in wrong
    assert right.startswith("✓ 正确！练习 0.3") and "252" in right
    assert all(english not in text for text in (not_attempted, wrong, right))


def test_chinese_banner_with_course_lang_zh(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_LANG", "zh")
    first, second = banner(tmp_path, monkeypatch).split("\n")
    assert first.startswith(f"course_lib | Python {platform.python_version()} | torch {torch.__version__} | ")
    assert "设备 cpu" in first and "计算预算 smoke" in first and "随机种子 3" in first
    assert second.startswith("线程：") and second.endswith("数据：$COURSE_DATA_DIR/")
    assert not any(word in first + second for word in ("device", "budget", "seed", "threads", "data:"))
