import pytest

from analyzers import nhs_number_problem, normalise_nhs_number, normalise_upn, upn_problem
from analyzers.identifiers import nhs_number_check_digit, upn_check_letter

# 9434765919: weights 10..2 on 943476591 sum to 299; 299 % 11 = 2; 11 - 2 = 9, the tenth digit.
# 4000000020: 4*10 + 2*2 = 44; 44 % 11 = 0; 11 - 0 = 11, which stands for 0.
VALID_NHS_NUMBERS = ("9434765919", "4000000020", "0830166130", "1860913903", "6281948211")
# B801200005001: 8*2 + 1*4 + 2*5 + 5*10 + 1*13 = 93; 93 % 23 = 1 -> "B" (the example DfE guidance uses).
# M80120000500A: a temporary UPN, the last letter counts as its index (A = 0): 80 % 23 = 11 -> "M".
VALID_UPNS = ("B801200005001", "M80120000500A", "D938611420010", "Y20112345678Z")


@pytest.mark.parametrize("number", VALID_NHS_NUMBERS)
def test_valid_nhs_numbers_pass(number):
    assert nhs_number_problem(number) is None


def test_the_printed_form_of_an_nhs_number_is_normalised():
    assert normalise_nhs_number("943 476 5919") == "9434765919"
    assert normalise_nhs_number("943-476-5919") == "9434765919"
    assert nhs_number_problem("943 476 5919") is None


def test_the_check_digit_follows_modulus_11():
    assert nhs_number_check_digit("943476591") == 9
    assert nhs_number_check_digit("400000002") == 0   # 11 becomes 0
    assert nhs_number_check_digit("100000001") is None  # 10: no tenth digit can make it valid


@pytest.mark.parametrize("number", ["9434765918", "9434765910", "4349765919", "1000000010", "1000000011"])
def test_a_wrong_check_digit_or_swapped_digits_fail(number):
    assert nhs_number_problem(number) == "fails its modulus-11 check digit"


@pytest.mark.parametrize("number", ["943476591", "94347659190", "94347659l9", "943476591x", "",
                                    "９４３４７６５９１９"])  # full-width digits are not ASCII digits
def test_anything_but_ten_ascii_digits_is_refused(number):
    assert nhs_number_problem(number) == "must be 10 digits"


@pytest.mark.parametrize("upn", VALID_UPNS)
def test_valid_upns_pass(upn):
    assert upn_problem(upn) is None


def test_the_check_letter_is_weighted_modulus_23():
    assert upn_check_letter("801200005001") == "B"
    assert upn_check_letter("80120000500A") == "M"


def test_a_upn_is_normalised_to_capitals_without_separators():
    assert normalise_upn(" b801 2000 05001 ") == "B801200005001"
    assert normalise_upn("m801-2000-0500a") == "M80120000500A"
    assert upn_problem("b801 2000 05001") is None


@pytest.mark.parametrize("upn", ["A801200005001", "B801200005002", "B810200005001", "M80120000500B"])
def test_a_wrong_check_letter_fails(upn):
    assert upn_problem(upn) == "fails its check letter"


@pytest.mark.parametrize("upn", ["B80120000500", "B8012000050011", ""])
def test_a_upn_of_the_wrong_length_is_refused(upn):
    assert upn_problem(upn).startswith("must be 13 characters")


@pytest.mark.parametrize("upn", [
    "1801200005001",   # no check letter
    "I801200005001",   # I is not in the check alphabet
    "B8012000A5001",   # a letter among the digits
    "B80120000500S",   # a temporary UPN's letter comes from the check alphabet (no S)
])
def test_a_upn_of_the_wrong_shape_is_refused(upn):
    assert upn_problem(upn) == "must be a check letter, 11 digits, then a digit or (temporary UPN) a letter"
