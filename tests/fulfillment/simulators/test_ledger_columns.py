"""The ledger lists write long values shortened, the full value in the title, and times that
wrap after the date only (fulfillment.simulators.ledger_columns)."""

from datetime import UTC, datetime

from fulfillment.simulators.ledger_columns import prefix, shortened, when

ORDER_ID = "f5357e8a-2f9a-4315-a0ad-28a82e5ffc3a"


def test_a_uuid_is_cut_to_its_first_8_characters_with_the_full_value_in_the_title():
    """An idempotency key keeps its operation: only the order id inside it is cut."""
    key = f"fulfillment.order:{ORDER_ID}:charge_payment"
    shown = "fulfillment.<wbr>order:<wbr>f5357e8a…<wbr>:<wbr>charge_payment"  # wraps at its separators
    assert shortened(key) == f'<span class="ledger-short" title="{key}">{shown}</span>'


def test_a_short_value_is_written_as_it_is_and_an_empty_one_as_a_dash():
    assert shortened("ref-1") == "ref-1"
    assert shortened("") == "-"


def test_a_value_still_too_long_is_cut_at_the_limit_and_escaped():
    """The cut text ends in an ellipsis; the title holds the whole, escaped like the text. A
    sentence keeps its dots (no break inside "18.90")."""
    subject = "Your <order> 18.90 EUR " + "x" * 80
    html = shortened(subject, limit=30)
    title = f"Your &lt;order&gt; 18.90 EUR {'x' * 80}"
    assert html == f'<span class="ledger-short" title="{title}">Your &lt;order&gt; 18.90 EUR xxxxxx…</span>'


def test_an_id_is_cut_to_its_prefix_unless_it_is_short():
    charge_id = "ch_935a56c8ec771244c6578e74"
    assert prefix(charge_id) == f'<span class="ledger-short" title="{charge_id}">ch_935a56c8…</span>'
    assert prefix("ch_935a56c8e") == "ch_935a56c8e"


def test_a_time_wraps_only_between_its_date_and_its_time(settings):
    settings.TIME_ZONE = "UTC"
    html = when(datetime(2026, 12, 7, 2, 50, 37, tzinfo=UTC))
    assert html == (
        '<span class="ledger-nowrap">2026-12-07</span> <span class="ledger-nowrap">02:50:37 UTC</span>'
    )
    assert when(None) == "-"
