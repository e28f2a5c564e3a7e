"""``python -m corridor.simulator``: serve the simulated feeds in the foreground."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path

from corridor.simulator.common import SimConfig
from corridor.simulator.server import start_simulator, write_port_file


def main(argv: list[str] | None = None) -> int:
    defaults = SimConfig()
    parser = argparse.ArgumentParser(prog="python -m corridor.simulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765, help="0 = any free port")
    parser.add_argument("--port-file", default=None,
                        help="write the bound base URL to this file once listening "
                             "(atomically); removed again on exit")
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--scale", type=float, default=defaults.scale)
    parser.add_argument("--logistics-scale", type=float, default=None,
                        help="scale of rail and port traffic (default: --scale)")
    parser.add_argument("--first-month", default=defaults.first_month)
    parser.add_argument("--last-month", default=defaults.last_month)
    parser.add_argument("--preliminary-months", type=int, default=defaults.preliminary_months)
    parser.add_argument("--comtrade-record-cap", type=int, default=defaults.comtrade_record_cap,
                        help="most records one Comtrade data call returns")
    parser.add_argument("--cache-dir", default=None,
                        help="keep generated bodies on disk here and serve them from the "
                             "files (bodies.py); default: built in memory")
    parser.add_argument("--faults", default="{}",
                        help='JSON object, e.g. \'{"transient": {"rate": 0.1}}\'')
    args = parser.parse_args(argv)
    config = SimConfig(seed=args.seed, scale=args.scale, first_month=args.first_month,
                       last_month=args.last_month, faults=json.loads(args.faults),
                       preliminary_months=args.preliminary_months,
                       comtrade_record_cap=args.comtrade_record_cap,
                       logistics_scale=args.logistics_scale)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    with start_simulator(config, host=args.host, port=args.port,
                         cache_dir=args.cache_dir) as handle:
        print(handle.base_url, flush=True)
        if args.port_file:
            write_port_file(args.port_file, handle.base_url)
        try:
            stop.wait()
        finally:
            if args.port_file:
                Path(args.port_file).unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
