"""Widget tokens: issued and signed by the server, expiring, renewed per visit; the key from
the environment or made once in var/."""

from __future__ import annotations

import stat

import pytest

from bot.channels.web.format import new_token
from bot.channels.web.tokens import KEY_FILE, Standing, TokenSigner, signing_key
from bot.settings import Settings, SettingsError

KEY = b"k" * 32
NOW = 1_800_000_000.0
DAY = 86_400


def test_an_issued_token_is_valid_until_its_lifetime_ends_then_expired():
    signer = TokenSigner(KEY)
    token = signer.issue(None, NOW, lifetime_days=3)
    check = signer.check(token, NOW + 3 * DAY)
    assert check.standing is Standing.VALID and token.startswith(check.chat + ".")
    later = signer.check(token, NOW + 3 * DAY + 1)
    assert later.standing is Standing.EXPIRED and later.chat == check.chat and later.authentic


def test_a_renewed_token_keeps_its_chat_and_counts_from_the_visit():
    signer = TokenSigner(KEY)
    first = signer.issue(None, NOW, lifetime_days=1)
    chat = signer.check(first, NOW).chat
    renewed = signer.issue(chat, NOW + DAY, lifetime_days=1)
    assert renewed != first
    assert signer.check(renewed, NOW + 2 * DAY) == signer.check(first, NOW)  # valid, same chat
    assert signer.check(first, NOW + 2 * DAY).standing is Standing.EXPIRED


def test_tokens_not_signed_with_this_key_are_forged():
    signer = TokenSigner(KEY)
    token = signer.issue(None, NOW, lifetime_days=30)
    chat, expires, signature = token.split(".")
    other_chat = new_token()
    tampered = [
        f"{other_chat}.{expires}.{signature}",  # someone else's chat under this signature
        f"{chat}.{int(expires) + 10 * DAY}.{signature}",  # a longer life
        f"{chat}.{expires}.{signature[:-1]}{'A' if signature[-1] != 'A' else 'B'}",
        TokenSigner(b"o" * 32).issue(chat, NOW, lifetime_days=30),  # another deployment's
    ]
    for forged in tampered:
        check = signer.check(forged, NOW)
        assert check.standing is Standing.FORGED and check.chat is None and not check.authentic


def test_a_pre_signing_token_is_bare_and_keeps_its_chat():
    old = new_token()
    check = TokenSigner(KEY).check(old, NOW)
    assert check.standing is Standing.BARE and check.chat == old and not check.authentic


@pytest.mark.parametrize(
    "token",
    [
        None,
        "",
        "short",
        12345,
        "a" * 39,
        "a" * 65,
        "x" * 41 + "!",
        "a" * 43 + ".1.2",
        "a" * 43 + ". . ",
    ],
)
def test_anything_else_is_malformed(token):
    assert TokenSigner(KEY).check(token, NOW).standing is Standing.MALFORMED


def test_a_short_key_is_refused():
    with pytest.raises(ValueError):
        TokenSigner(b"short")


def test_the_key_comes_from_the_environment_when_set(tmp_path):
    secret = "s" * 40
    settings = Settings.from_env(
        {"AFTERCARE_HOME": str(tmp_path), "AFTERCARE_WEB_TOKEN_SECRET": secret}
    )
    assert signing_key(settings) == secret.encode()
    assert not (tmp_path / "var" / KEY_FILE).exists()
    assert secret in settings.secret_values()  # so logs redact it


def test_a_weak_secret_in_the_environment_is_a_clear_error(tmp_path):
    with pytest.raises(SettingsError, match="AFTERCARE_WEB_TOKEN_SECRET is too short"):
        Settings.from_env({"AFTERCARE_HOME": str(tmp_path), "AFTERCARE_WEB_TOKEN_SECRET": "abc"})


def test_without_the_variable_a_key_is_made_once_readable_by_this_user_only(tmp_path):
    settings = Settings.from_env({"AFTERCARE_HOME": str(tmp_path)})
    first = signing_key(settings)
    path = tmp_path / "var" / KEY_FILE
    assert len(first) >= 32 and path.read_bytes() == first
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert signing_key(settings) == first  # a restart (or a second process) keeps every token
    signer = TokenSigner(first)
    token = signer.issue(None, NOW, 1)
    assert TokenSigner(signing_key(settings)).check(token, NOW).standing is Standing.VALID


def test_a_key_file_others_may_read_is_refused(tmp_path):
    settings = Settings.from_env({"AFTERCARE_HOME": str(tmp_path)})
    signing_key(settings)
    path = tmp_path / "var" / KEY_FILE
    path.chmod(0o644)
    with pytest.raises(RuntimeError, match="chmod 600"):
        signing_key(settings)


def test_processes_starting_together_share_one_key(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    settings = Settings.from_env({"AFTERCARE_HOME": str(tmp_path)})
    with ThreadPoolExecutor(8) as pool:
        keys = set(pool.map(lambda _: signing_key(settings), range(32)))
    assert len(keys) == 1 and len(next(iter(keys))) >= 32
    assert [p.name for p in (tmp_path / "var").iterdir()] == [KEY_FILE]  # no partial file left
