from __future__ import annotations

import pytest

from candor.nlu_review.masking import mask_message
from nlu.model import NluModel


@pytest.mark.parametrize(
    ("text", "names", "masked"),
    [
        (
            "我是李雷，手机13812345678，邮箱 li.lei@qq.com，编号ap-2026-000123",
            ["李雷"],
            "我是某某，手机13000000000，邮箱 someone@example.com，编号AP-0000-000000",
        ),
        ("Hi, Lei Li here, call +86 138 1234 5678", ["Lei Li"], "Hi, Alex here, call 13000000000"),
        ("张小明在吗，小明想问下结果", ["张小明"], "某某在吗，某某想问下结果"),
        (
            "座机021-62345678，身份证110101199003071234",
            [],
            "座机000-00000000，身份证000000000000000000",
        ),
        ("面试结果出来了吗", ["李雷"], "面试结果出来了吗"),
        # Short numbers and names of one character are left alone.
        ("五险一金有吗 3天内", ["王"], "五险一金有吗 3天内"),
    ],
)
def test_codes_phones_emails_long_numbers_and_the_name_are_masked(
    text: str, names: list[str], masked: str
) -> None:
    assert mask_message(text, names=names) == masked


def test_placeholders_are_still_the_entities_the_model_knows(nlu_model: NluModel) -> None:
    """Masked, an example keeps the entity features it is trained with."""
    original = "我的编号AP-2026-000123，手机13812345678，邮箱li.lei@qq.com"
    masked = mask_message(original)
    found = {e.entity for e in nlu_model.parse(masked).entities}
    assert {"application_code", "phone", "email"} <= found
    assert {e.entity for e in nlu_model.parse(original).entities} == found
