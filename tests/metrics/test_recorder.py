"""The columnar recorder's string columns: interned codes for repeated values, packed
UTF-8 for the (mostly distinct) recipient addresses; both give back what went in."""

from __future__ import annotations

from smtpsim.metrics.recorder import ColumnarRecorder, Interned, Packed
from smtpsim.metrics.tables import attempts_table, recipients_table


def test_packed_gives_back_ascii_and_utf8_addresses_in_order() -> None:
    column = Packed()
    ascii_only = ["user1@dest.example", "", "user1@dest.example", "a@b"]
    for value in ascii_only:
        column.append(value)
    assert column.decoded() == ascii_only
    column.append("jörg@bücher.example")  # SMTPUTF8 (RFC 6531): bytes != characters
    assert column.decoded() == [*ascii_only, "jörg@bücher.example"]
    assert len(column) == 5
    assert column.nbytes() == len("".join(ascii_only)) + len("jörg@bücher.example".encode()) + 20


def test_interned_stores_each_distinct_value_once() -> None:
    column = Interned()
    for value in ["4.2.0", "2.0.0", "4.2.0", "4.2.0"]:
        column.append(value)
    assert column.values == ["4.2.0", "2.0.0"]
    assert list(column.codes) == [0, 1, 0, 0]
    assert column.decoded() == ["4.2.0", "2.0.0", "4.2.0", "4.2.0"]


def test_tables_name_each_row_and_attempt_by_its_own_address() -> None:
    rec = ColumnarRecorder()
    msg = rec.message("s@corp.example", 1000, 3, 0.0, "staff")
    rows = [
        rec.recipient(msg, address, address.split("@")[1], "msa")
        for address in ("a@x.example", "é@y.example", "b@x.example")
    ]
    for row in (rows[2], rows[0], rows[2]):
        rec.attempt(
            row,
            host="msa",
            peer="mx",
            t_start=0.0,
            t_end=1.0,
            outcome="deferred",
            code=451,
            dsn="4.3.0",
            phase="rcpt",
            queue_s=0.0,
            conn_s=0.0,
            xfer_s=1.0,
        )
    recipients = recipients_table(rec)
    assert recipients["rcpt"].tolist() == ["a@x.example", "é@y.example", "b@x.example"]
    assert recipients["msg_id"].dtype == "int64"
    assert attempts_table(rec)["rcpt"].tolist() == ["b@x.example", "a@x.example", "b@x.example"]
    assert recipients["attempts"].tolist() == [1, 0, 2]
