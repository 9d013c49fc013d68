"""The upstream simulator: a real HTTP server speaking the reference dialect (interfaces.md §3).

Seeded with :func:`demo_seed` (one worker per eligibility case), with fault injection and
inspection under ``/_sim/``. Run it alone with ``wi-adapter simulator --port 8090``, or in
this process with :func:`start_simulator` (the demo and the integration tests do).

Query a seeded worker's filings with curl (the simulator's default gateway auth is none)::

    curl -s -X POST http://127.0.0.1:8090/WI9001 -H 'Content-Type: application/json' -d '{
      "infno":"WI9001","msgid":"H11010000001202611240930000001","mdtrtarea_admvs":"110100",
      "insuplc_admdvs":"","recer_sys_code":"DEMO","infver":"V1.0","opter_type":"1",
      "opter":"001","opter_name":"演示","inf_time":"2026-11-24 09:30:00",
      "fixmedins_code":"H11010000001","fixmedins_name":"示例工伤协议医院","sign_no":"",
      "input":{"opter_no":"001"}}'
    # → {"infcode":0, …, "output":{"signinoutb":{"sign_no":"SN20261124000001", …}}}
    # then the same envelope to /WI1201 with "infno":"WI1201", that sign_no and
    # "input":{"psn_no":"P001"}
"""

from connectors.upstream.simulator.app import create_app
from connectors.upstream.simulator.demo_seed import CASES, DEMO_INSTITUTION, demo_seed
from connectors.upstream.simulator.server import SimulatorServer, start_simulator
from connectors.upstream.simulator.state import SimState

__all__ = [
    "CASES",
    "DEMO_INSTITUTION",
    "SimState",
    "SimulatorServer",
    "create_app",
    "demo_seed",
    "start_simulator",
]
