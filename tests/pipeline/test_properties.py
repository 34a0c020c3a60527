"""pyttsx3's property units, and how they map onto the API's (``Properties.voicing``)."""

from __future__ import annotations

import math

import pytest

from kuhu_driver._model import Voicing
from kuhu_driver.api import DEFAULT_VOICE, find_voice
from kuhu_driver.errors import InvalidInputError, UnknownPropertyError
from kuhu_driver.pipeline import Properties


def test_the_defaults_are_the_apis_defaults() -> None:
    assert Properties().voicing() == Voicing(DEFAULT_VOICE.id, 50, 1.0, 1.0, 22050)


@pytest.mark.parametrize(
    ("name", "value", "field", "expected"),
    [
        ("rate", 200, "rate", 1.0),
        ("rate", 100, "rate", 0.5),
        ("rate", 400, "rate", 2.0),
        ("rate", 50, "rate", 0.5),  # clipped, as pyttsx3 documents
        ("rate", 10**400, "rate", 2.0),
        ("rate", -math.inf, "rate", 0.5),
        ("volume", 1.0, "volume", 100),
        ("volume", 0.255, "volume", 26),
        ("volume", 7, "volume", 100),
        ("volume", -1, "volume", 0),
        ("pitch", 1.5, "pitch", 1.5),
        ("pitch", 9, "pitch", 2.0),
        ("pitch", 0, "pitch", 0.5),
        ("sample_rate", 8000, "sample_rate", 8000),
        ("voice", "小婉", "voice", "v3-voice-b197c9912001439d890cf2a5a0b29226"),
    ],
)
def test_values_map_onto_the_apis_units(
    name: str, value: object, field: str, expected: object
) -> None:
    voicing = Properties().with_value(name, value).voicing()
    assert getattr(voicing, field) == expected


def test_a_pyttsx3_voice_object_works_as_a_voice() -> None:
    class Pyttsx3Voice:
        id = DEFAULT_VOICE.id

    assert Properties().with_value("voice", Pyttsx3Voice()).voice == DEFAULT_VOICE.id
    assert find_voice(DEFAULT_VOICE.name) == DEFAULT_VOICE


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("rate", math.nan),
        ("rate", "fast"),
        ("rate", True),
        ("volume", None),
        ("sample_rate", 11025),
        ("sample_rate", 22050.0),
        ("voice", 42),
        ("voice", "没有这个声音"),
        ("voices", []),
    ],
)
def test_unusable_values_are_refused_and_change_nothing(name: str, value: object) -> None:
    props = Properties()
    with pytest.raises(InvalidInputError):
        props.with_value(name, value)
    assert props == Properties()


def test_an_unknown_property_is_a_key_error_naming_the_known_ones() -> None:
    with pytest.raises(UnknownPropertyError, match="sample_rate") as info:
        Properties().with_value("speed", 1)
    assert isinstance(info.value, KeyError)
