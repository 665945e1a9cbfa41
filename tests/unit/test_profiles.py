import pytest

from search_service.profiles import THRESHOLD_NAMES, WEIGHT_NAMES, ProfileError, RelevanceProfile, default_profile


def test_the_shipped_default_is_complete_and_valid():
    profile = default_profile()
    assert (profile.name, profile.version) == ("default", 1)
    assert set(profile.weights) == set(WEIGHT_NAMES)
    assert set(profile.thresholds) == set(THRESHOLD_NAMES)
    # Stronger evidence of the same kind never weighs less than weaker evidence.
    w = profile.weights
    assert w["family_exact"] >= w["family_variant"] >= w["family_phonetic"] >= w["family_fuzzy"]
    assert w["given_exact"] >= w["given_variant"] >= w["given_phonetic"] >= w["given_fuzzy"] >= w["given_initial"]
    assert w["dob_exact"] >= w["dob_transposed"] >= w["dob_near"] >= w["dob_year_month"] >= w["dob_year"]


def test_round_trip():
    profile = default_profile()
    assert RelevanceProfile.from_dict(profile.to_dict()) == profile


@pytest.mark.parametrize("change, message", [
    ({"name": "bad name!"}, "name:"),
    ({"version": 0}, "version:"),
    ({"colour": "red"}, "colour: unknown profile field"),
    ({"weights": {"family_exact": 1}}, "weights.family_variant: missing"),
    ({"thresholds": {"certain": 0.5, "probable": 0.7, "minimum": 0.3, "indistinct": 0.8}}, "thresholds: need"),
    ({"thresholds": {"certain": 0.9, "probable": 0.7, "minimum": 0.3, "indistinct": 0}}, "thresholds.indistinct"),
])
def test_bad_profiles_name_the_problem(change, message):
    data = {**default_profile().to_dict(), **change}
    with pytest.raises(ProfileError, match=message.replace(".", r"\.")):
        RelevanceProfile.from_dict(data)


@pytest.mark.parametrize("value", [-1, "10", True, None, 10_000])
def test_weights_must_be_sane_numbers(value):
    data = default_profile().to_dict()
    data["weights"]["gender"] = value
    with pytest.raises(ProfileError, match="weights.gender: must be a number from 0 to 1000"):
        RelevanceProfile.from_dict(data)


def test_an_unknown_weight_is_refused():
    data = default_profile().to_dict()
    data["weights"]["shoe_size"] = 1
    with pytest.raises(ProfileError, match="weights.shoe_size: unknown"):
        RelevanceProfile.from_dict(data)


def test_a_profile_stored_before_the_garbled_name_weights_takes_the_shipped_ones():
    data = default_profile().to_dict()
    data["weights"]["gender"] = 2.5
    for name in ("family_garbled", "given_garbled"):
        del data["weights"][name]
    profile = RelevanceProfile.from_dict(data)
    assert profile.weights["gender"] == 2.5
    assert profile.weights["family_garbled"] == default_profile().weights["family_garbled"]
    assert profile.weights["given_garbled"] == default_profile().weights["given_garbled"]


def test_a_profile_stored_before_the_gender_contradiction_share_takes_the_shipped_one():
    data = default_profile().to_dict()
    data["thresholds"]["indistinct"] = 0.9
    del data["thresholds"]["contradicting_gender"]
    profile = RelevanceProfile.from_dict(data)
    assert profile.thresholds["indistinct"] == 0.9
    assert profile.thresholds["contradicting_gender"] == default_profile().thresholds["contradicting_gender"] < 1


@pytest.mark.parametrize("value", [0, 1.5])
def test_the_gender_contradiction_share_must_be_a_share(value):
    data = default_profile().to_dict()
    data["thresholds"]["contradicting_gender"] = value
    with pytest.raises(ProfileError, match=r"thresholds\.contradicting_gender"):
        RelevanceProfile.from_dict(data)
