"""Unit tests of truth.py's matching; run with
`python3 -m unittest discover -s tests/integration -p 'test_truth_*.py'`."""
import json
import os
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import truth  # noqa: E402

TRUTH = [
    {"kind": "alert", "pattern": "repeat_calls_72h", "instance": 1,
     "model": "repeat_calls", "priority": 3, "subject_kind": "HOUSEHOLD",
     "subject_key": "k1:AAA", "trigger_incident_id": "JQ2",
     "complete_ms": 1000, "must": True},
    {"kind": "alert", "pattern": "special_lethal", "instance": 1,
     "model": "special_circumstances", "priority": 1,
     "subject_kind": "INCIDENT", "subject_key": "JQ5",
     "trigger_incident_id": "JQ5", "complete_ms": 2000, "must": True},
    {"kind": "alert", "pattern": "hotspot_surge", "instance": 1,
     "model": "hotspot", "priority": 4, "subject_kind": "GRID",
     "subject_key": "G330151-02", "trigger_incident_id": "JQ9",
     "complete_ms": 3000, "must": False},
    {"kind": "control", "pattern": "follow_up_visited", "instance": 1,
     "model": "follow_up_overdue", "subject_kind": "PERSON",
     "subject_key": "k1:CCC"},
    {"kind": "summary"},
]

ALERTS = [
    {"alert_id": "a1", "model": "repeat_calls", "priority": "P3",
     "subject_key": "a:k1:AAA", "trigger_incident_id": "JQ2",
     "event_time_ms": 1000 + 120000},
    {"alert_id": "a1", "model": "repeat_calls", "priority": "P3",
     "subject_key": "a:k1:AAA", "trigger_incident_id": "JQ2",
     "event_time_ms": 1000 + 120000},
    {"alert_id": "a2", "model": "special_circumstances", "priority": "P1",
     "subject_key": "i:JQ5", "trigger_incident_id": "JQ5",
     "event_time_ms": 2000},
    {"alert_id": "a3", "model": "hotspot", "priority": "P3",
     "subject_key": "d:330152", "trigger_incident_id": "JQ7",
     "event_time_ms": 500},
]


class TruthMatchTest(unittest.TestCase):
    def test_prefixed_subjects_match(self):
        report = truth.score(TRUTH, ALERTS)
        rc = report["models"]["repeat_calls"]
        self.assertEqual(rc["matched"], 1)
        self.assertEqual(rc["emitted"], 1)  # a1 twice counts once
        self.assertEqual(rc["precision"], 1.0)
        self.assertEqual(rc["median_delay_min"], 2.0)
        self.assertEqual(report["failures"], [])

    def test_unmatched_alert_outside(self):
        hs = truth.score(TRUTH, ALERTS)["models"]["hotspot"]
        self.assertEqual(hs["matched"], 0)
        self.assertEqual(hs["outside_patterns"], 1)
        self.assertEqual(hs["precision"], 0.0)

    def test_wrong_priority_fails(self):
        alerts = [dict(a) for a in ALERTS]
        alerts[2]["priority"] = "P2"
        report = truth.score(TRUTH, alerts)
        self.assertEqual(len(report["failures"]), 1)
        self.assertIn("special_circumstances", report["failures"][0])

    def test_control_alert_fails(self):
        alerts = ALERTS + [{"alert_id": "a9", "model": "follow_up_overdue",
                            "priority": "P3", "subject_key": "p:k1:CCC"}]
        self.assertEqual(len(truth.score(TRUTH, alerts)["failures"]), 1)

    def test_exit_status(self):
        with tempfile.TemporaryDirectory() as tmp:
            t = os.path.join(tmp, "truth.jsonl")
            a = os.path.join(tmp, "alerts.jsonl")
            with open(t, "w") as f:
                f.writelines(json.dumps(x) + "\n" for x in TRUTH)
            with open(a, "w") as f:
                f.writelines(json.dumps(x) + "\n" for x in ALERTS[:2])
            script = os.path.join(os.path.dirname(__file__), "truth.py")
            done = subprocess.run([sys.executable, script, t, a],
                                  capture_output=True, text=True)
            self.assertEqual(done.returncode, 1)
            self.assertIn("missing special_circumstances", done.stdout)


if __name__ == "__main__":
    unittest.main()
