#!/usr/bin/env python3
"""ClusterPool on poold: 9 jobs on 3 ProcessPoolExecutor workers that reuse
at most 3 clusters.

The Manager version kept the clusters in a Manager().list() that workers
pop()ped (creating a cluster when it was empty) and append()ed back. Here
poold keeps them: a job leases a cluster (poold creates one while fewer
than 3 exist, else the job waits in line), and the lease is bound to the
worker's connection, so a worker that dies gives its cluster back at once
instead of losing it. The jobs of a broken executor run again on a new one.

    cluster_pool.py [--socket PATH] [--die-in-job N]
"""

import argparse
import concurrent.futures as cf
import os
import time

from poolclient import Client, Exists

POOL = "clusters"


def job(client, n, die):
    """One job: hold a cluster while working on it."""
    with client.lease(POOL, wait=600, bind="connection") as cluster:
        if n == die:
            os._exit(1)  # a worker crashing mid-job
        time.sleep(0.05)  # the work
        return n, cluster.name, os.getpid()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--socket", help="poold's socket (default: poold's)")
    ap.add_argument("--die-in-job", type=int, default=-1, metavar="N",
                    help="make the worker running job N die")
    args = ap.parse_args()
    client = Client(socket=args.socket)
    try:
        client.call("pool.create", pool=POOL, max_size=3)
    except Exists:
        pass
    todo, die = set(range(9)), args.die_in_job
    while todo:
        with cf.ProcessPoolExecutor(3) as ex:
            futures = [ex.submit(job, client, n, die) for n in sorted(todo)]
            for f in cf.as_completed(futures):
                try:
                    n, name, pid = f.result()
                except cf.process.BrokenProcessPool:
                    continue  # run again on a new executor below
                todo.discard(n)
                print("job %d ran on %s (worker %d)" % (n, name, pid))
        if todo:
            print("a worker died; running jobs %s again" % sorted(todo))
        die = -1
    occ = client.status(POOL)["pools"][0]
    print("9 jobs done; clusters: %d, leased now: %d"
          % (occ["total"], occ["leased"]))


if __name__ == "__main__":
    main()
