"""Self-test for autobahn/check.py with synthetic index.json reports.

Run from the repository root with either of:
    python3 -m unittest autobahn/test_check.py
    python3 autobahn/test_check.py
"""
import importlib.util
import io
import json
import os
import tempfile
import unittest
from contextlib import redirect_stdout

_spec = importlib.util.spec_from_file_location(
    "switchyard_autobahn_check", os.path.join(os.path.dirname(os.path.abspath(__file__)), "check.py"))
check = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(check)

CASES = ["1.1.1", "2.1", "7.7.13", "9.2.10", "12.1.1", "13.7.18"]


def result(behavior="OK", close="OK"):
    return {"behavior": behavior, "behaviorClose": close, "duration": 1,
            "remoteCloseCode": 1000, "reportfile": "x.json"}


def passing_index(agent="switchyard", cases=CASES):
    return {agent: {c: result() for c in cases}}


class CheckTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)
        self.n = 0

    def write(self, index):
        self.n += 1
        path = os.path.join(self.tmp.name, "index%d.json" % self.n)
        with open(path, "w") as f:
            json.dump(index, f)
        return path

    def run_check(self, *args):
        out = io.StringIO()
        with redirect_stdout(out):
            status = check.main(list(args))
        return status, out.getvalue()

    def both(self, server_index, client_index=None, expect=len(CASES)):
        client_index = passing_index() if client_index is None else client_index
        return self.run_check("--expect", str(expect), "--server", self.write(server_index),
                              "--client", self.write(client_index))

    def test_pass(self):
        idx = passing_index()
        idx["switchyard"]["2.1"] = result("INFORMATIONAL", "INFORMATIONAL")
        status, out = self.both(idx)
        self.assertEqual(status, 0, out)
        self.assertIn("AUTOBAHN PASS", out)

    def test_non_strict_fails(self):
        idx = passing_index()
        idx["switchyard"]["7.7.13"] = result("NON-STRICT")
        status, out = self.both(idx)
        self.assertEqual(status, 1)
        self.assertRegex(out, r"7\.7\.13\s+behavior=NON-STRICT")

    def test_failed_fails_on_client_side(self):
        idx = passing_index()
        idx["switchyard"]["9.2.10"] = result("FAILED")
        status, out = self.both(passing_index(), idx)
        self.assertEqual(status, 1)
        self.assertIn("client side: FAIL", out)
        self.assertIn("server side: PASS", out)

    def test_unimplemented_fails_in_every_section(self):
        # permessage-deflate is implemented: 12.* and 13.* must negotiate it, like the rest.
        for case in ("1.1.1", "12.1.1", "13.7.18"):
            idx = passing_index()
            idx["switchyard"][case] = result("UNIMPLEMENTED")
            status, out = self.both(idx)
            self.assertEqual(status, 1, case)
            self.assertRegex(out, case.replace(".", r"\.") + r"\s+behavior=UNIMPLEMENTED")

    def test_behavior_close_fails(self):
        for bad in ("FAILED", "UNCLEAN", "WRONG CODE", "NON-STRICT", "FAILED BY CLIENT"):
            idx = passing_index()
            idx["switchyard"]["2.1"] = result("OK", bad)
            status, out = self.both(idx)
            self.assertEqual(status, 1, bad)
            self.assertIn("behaviorClose=" + bad, out)

    def test_behavior_close_failed_in_deflate_section_fails(self):
        idx = passing_index()
        idx["switchyard"]["12.1.1"] = result("OK", "FAILED")
        self.assertEqual(self.both(idx)[0], 1)

    def test_case_count_must_match(self):
        status, out = self.both(passing_index(), expect=len(CASES) + 1)
        self.assertEqual(status, 1)
        self.assertIn("expected %d" % (len(CASES) + 1), out)

    def test_zero_cases_fails(self):
        self.assertEqual(self.both({})[0], 1)
        self.assertEqual(self.both({"switchyard": {}})[0], 1)

    def test_missing_report_fails(self):
        status, out = self.run_check("--expect", "6", "--server",
                                     os.path.join(self.tmp.name, "nope.json"))
        self.assertEqual(status, 1)
        self.assertIn("cannot read report", out)

    def test_several_reports_per_side_are_merged(self):
        core = passing_index(cases=CASES[:4])
        d12 = passing_index(cases=["12.1.1"])
        d13 = passing_index(cases=["13.7.18"])
        paths = [self.write(core), self.write(d12), self.write(d13)]
        status, out = self.run_check("--expect", "6", "--server", *paths, "--client", *paths)
        self.assertEqual(status, 0, out)

    def test_duplicate_case_across_reports_fails(self):
        paths = [self.write(passing_index()), self.write(passing_index(cases=["1.1.1"]))]
        status, out = self.run_check("--expect", "6", "--server", *paths)
        self.assertEqual(status, 1)
        self.assertIn("more than one report", out)

    def test_case_ids_sorted_numerically(self):
        self.assertLess(check.case_key("9.2.10"), check.case_key("9.10.1"))
        self.assertLess(check.case_key("9.2.2"), check.case_key("9.2.10"))


if __name__ == "__main__":
    unittest.main()
