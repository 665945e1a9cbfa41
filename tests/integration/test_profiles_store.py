"""Stored relevance profiles on SQLite and PostgreSQL."""
import pytest

from search_service.profiles import ProfileError, default_profile
from webapp.relevance_service import activate_profile, active_profile, get_profile, save_profile


def test_without_stored_profiles_the_default_is_active(sessions):
    with sessions() as session:
        assert active_profile(session) == default_profile()


def test_each_save_is_a_new_version_and_activation_switches(sessions):
    data = default_profile().to_dict()
    data["name"] = "names-heavy"
    data["weights"]["family_exact"] = 12.0
    with sessions.begin() as session:
        first = save_profile(session, data, "tester")
        data["weights"]["family_exact"] = 14.0
        second = save_profile(session, data, "tester")
    assert (first.version, second.version) == (1, 2)
    with sessions.begin() as session:
        assert get_profile(session, "names-heavy").weights["family_exact"] == 14.0
        assert get_profile(session, "names-heavy", 1).weights["family_exact"] == 12.0
        activate_profile(session, "names-heavy", 1)
    with sessions() as session:
        assert (active_profile(session).name, active_profile(session).version) == ("names-heavy", 1)
    with sessions.begin() as session:
        activate_profile(session, "default")
    with sessions() as session:
        assert active_profile(session) == default_profile()


def test_unknown_profiles_and_bad_data_are_refused(sessions):
    with sessions() as session:
        with pytest.raises(ProfileError, match="no profile 'nope'"):
            get_profile(session, "nope")
        with pytest.raises(ProfileError, match="weights"):
            save_profile(session, {"name": "x", "weights": {}, "thresholds": {}}, "tester")


def test_an_edit_of_the_shipped_default_never_hides_it(sessions):
    data = default_profile().to_dict()
    data["weights"]["family_exact"] = 13.0
    with sessions.begin() as session:
        edited = save_profile(session, data, "tester")
    assert (edited.name, edited.version) == ("default", default_profile().version + 1)
    with sessions() as session:
        assert get_profile(session, "default", default_profile().version) == default_profile()
        assert get_profile(session, "default").weights["family_exact"] == 13.0
