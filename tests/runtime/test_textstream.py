from slmkit.runtime.textstream import StopMatcher, TextStream


def feed(stops, pieces):
    m = StopMatcher(stops)
    out = []
    for p in pieces:
        text, stopped = m.push(p)
        out.append(text)
        if stopped:
            return "".join(out), True
    return "".join(out) + m.flush(), False


def test_no_stops_passes_through():
    assert feed([], ["a", "b"]) == ("ab", False)


def test_stop_split_across_pieces_is_never_shown():
    m = StopMatcher(["</end>"])
    assert m.push("hello </") == ("hello ", False)
    assert m.push("en") == ("", False)
    assert m.push("d> tail") == ("", True)
    assert m.push("more") == ("", True)


def test_false_alarm_is_released():
    assert feed(["STOP"], ["ST", "OP!"]) == ("", True)
    assert feed(["STOP"], ["ST", "AR"]) == ("STAR", False)


def test_earliest_of_several_stops_wins():
    assert feed(["b", "abc"], ["xxabc"]) == ("xx", True)
    assert feed(["c", "ab"], ["xxabc"]) == ("xx", True)


def test_utf8_split_across_tokens():
    data = "서울".encode()
    s = TextStream()
    out = [s.push(data[i:i + 1]) for i in range(len(data))]
    assert "".join(out) + s.finish() == "서울"
    assert out[0] == ""  # an incomplete character is held


def test_invalid_bytes_become_replacement_char():
    s = TextStream()
    assert s.push(b"\xff") == "\ufffd"


def test_textstream_flushes_partial_stop_at_end():
    s = TextStream(["###"])
    assert s.push(b"a#") == "a"
    assert s.finish() == "#"

