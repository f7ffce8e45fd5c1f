"""The examples of examples/python run against the real poold."""

import os
import re
import subprocess
import sys

from harness import DEADLINE, ROOT, DaemonTest

EXAMPLES = os.path.join(ROOT, "examples", "python")


class TestExamples(DaemonTest):

    def example(self, name, *args):
        env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "libpool",
                                                       "python"))
        out = subprocess.run(
            [sys.executable, os.path.join(EXAMPLES, name),
             "--socket", self.daemon.sock] + list(args),
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
            timeout=DEADLINE * 5, universal_newlines=True)
        self.assertEqual(out.returncode, 0, out.stdout)
        return out.stdout

    def test_cluster_pool_with_a_dying_worker(self):
        out = self.example("cluster_pool.py", "--die-in-job", "4")
        self.assertIn("a worker died", out)
        jobs = re.findall(r"^job (\d+) ran on (\S+)", out, re.M)
        self.assertEqual(sorted({int(n) for n, _ in jobs}), list(range(9)))
        self.assertLessEqual(len({c for _, c in jobs}), 3)
        self.assertIn("9 jobs done; clusters: 3, leased now: 0", out)
        occ = self.occupancy("clusters")
        self.assertEqual((occ["total"], occ["leased"]), (3, 0))

    def test_bounded_submit(self):
        out = self.example("bounded_submit.py", "--jobs", "3000",
                           "--slots", "8", "--pool", "bounded")
        m = re.search(r"jobs: (\d+) done, sum of squares \d+ \((\w+)\), "
                      r"at most (\d+) in flight", out)
        self.assertIsNotNone(m, out)
        self.assertEqual((m.group(1), m.group(2)), ("3000", "right"))
        self.assertLessEqual(int(m.group(3)), 8)
        self.assertEqual(self.occupancy("bounded")["leased"], 0)
