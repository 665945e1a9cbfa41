import random

import pytest

from registry import cpid


def test_generated_ids_are_valid_ten_digit_numbers():
    rng = random.Random(1)
    ids = [cpid.generate(rng) for _ in range(500)]
    assert all(len(i) == 10 and i.isdigit() and i[0] != "0" for i in ids)
    assert all(cpid.is_valid(i) for i in ids)
    assert len(set(ids)) == 500


def test_generation_is_deterministic_for_a_seeded_rng():
    assert [cpid.generate(random.Random(7)) for _ in range(3)] == [cpid.generate(random.Random(7)) for _ in range(3)]


def test_check_digit_follows_modulus_11():
    # 943 476 5919 is the NHS's published example of a valid modulus-11 number.
    assert cpid.check_digit("943476591") == 9
    assert cpid.is_valid("9434765919")
    assert cpid.is_valid("943 476 5919")


@pytest.mark.parametrize("bad", ["9434765918", "943476591", "94347659190", "94347659l9", "", "abcdefghij",
                                 "９４３４７６５９１９"])
def test_invalid_ids_are_refused(bad):
    assert not cpid.is_valid(bad)


def test_nine_digits_whose_check_would_be_ten_have_no_valid_id():
    first = next(f"{n:09d}" for n in range(10**8, 10**8 + 1000) if cpid.check_digit(f"{n:09d}") is None)
    assert not any(cpid.is_valid(first + str(d)) for d in range(10))


def test_display_groups_digits():
    assert cpid.display("9434765919") == "943 476 5919"
