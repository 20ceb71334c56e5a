# The sandbox's model: the Azure ML inference server's entry script contract (init() once, run() per
# request). Its pod's environment sets how it behaves: SCORE_DELAY_MS (time per request),
# SCORE_FAILURE_RATE (0..1, the share of requests that raise: the server answers 500), POD_NAME.
# A request {"crash": true} kills the whole server (a crashed replica, for fault injection);
# {"delay_ms": N} sets this request's time (load for a demo, with no redeploy).
import json
import os
import random
import signal
import time


def init():
    global DELAY, FAILURE_RATE, NAME
    DELAY = float(os.environ.get("SCORE_DELAY_MS", "0")) / 1000.0
    FAILURE_RATE = float(os.environ.get("SCORE_FAILURE_RATE", "0"))
    NAME = os.environ.get("POD_NAME", "sandbox")


def run(raw_data):
    try:
        data = json.loads(raw_data)
    except ValueError:
        data = None
    delay = DELAY
    if isinstance(data, dict) and "delay_ms" in data:
        delay = float(data["delay_ms"]) / 1000.0
    time.sleep(delay)
    if random.random() < FAILURE_RATE:
        raise RuntimeError("injected failure (SCORE_FAILURE_RATE)")
    if not isinstance(data, dict):
        raise ValueError("the request body is not a JSON object")
    if data.get("crash"):
        # The worker's parent is the server (gunicorn's master): the replica goes down whole.
        os.kill(os.getppid(), signal.SIGKILL)
        os._exit(1)
    rows = data.get("data", [])
    return {"prediction": [sum(float(x) for x in row) for row in rows], "replica": NAME}
