"""A newcomer's first minutes: `make run` (with the PORT and HOST the README shows), then every `.venv/bin/smscrm`
command of the README, as written, in another terminal: no flag, variable or id the README does not give."""
from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import requests

from tests.test_serve_end_to_end import free_port
from tests.waiting import wait_for

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
SMSCRM = [sys.executable, "-m", "smscrm.cli"]


def readme_commands() -> list[str]:
    """The `.venv/bin/smscrm` lines of the README's code blocks, in order, without their comments."""
    blocks = re.findall(r"^```\n(.*?)^```", README, flags=re.S | re.M)
    lines = [line.split("  #")[0].strip() for block in blocks for line in block.splitlines()]
    return [line for line in lines if line.startswith(".venv/bin/smscrm ")]


def test_make_run_takes_port_and_host_as_the_readme_shows():
    assert re.search(r"^make run PORT=\d+ HOST=\S+ ", README, flags=re.M)
    dry_run = subprocess.run(["make", "-n", "run", "PORT=8123", "HOST=0.0.0.0"], cwd=ROOT, capture_output=True,
                             text=True, check=True).stdout
    assert "smscrm serve --host 0.0.0.0 --port 8123" in dry_run
    default = subprocess.run(["make", "-n", "run"], cwd=ROOT, capture_output=True, text=True, check=True,
                             env={key: value for key, value in os.environ.items() if key not in ("PORT", "HOST")})
    assert "smscrm serve --host 127.0.0.1 --port 5000" in default.stdout


def test_every_readme_command_works_as_written_after_make_run(engine, database_url, tmp_path):
    commands = readme_commands()
    assert any(" simulate " in command for command in commands)
    assert any(" merchant list" in command for command in commands)
    assert any(" apikey create --merchant " in command for command in commands)

    # what `make run` does in a fresh checkout: write .env, upgrade, seed the demo, serve
    subprocess.run(["make", "-f", str(ROOT / "Makefile"), ".env", f"PYTHON={sys.executable}"], cwd=tmp_path,
                   capture_output=True, check=True)
    settings = dict(line.split("=", 1) for line in (tmp_path / ".env").read_text().splitlines())
    assert settings["SMSCRM_ENV"] == "development" and len(settings["SMSCRM_SECRET_KEY"]) >= 32
    env = {name: value for name, value in os.environ.items() if not name.startswith(("SMSCRM_", "TWILIO_"))}
    env.update(PYTHONPATH=str(ROOT), SMSCRM_DATABASE_URL=database_url)  # the test database instead of instance/
    for command in (["db", "upgrade"], ["demo"]):
        subprocess.run(SMSCRM + command, env=env, cwd=tmp_path, capture_output=True, check=True)
    port = free_port()
    with open(tmp_path / "serve.log", "w") as log:
        server = subprocess.Popen(SMSCRM + ["serve", "--port", str(port)], env=env, cwd=tmp_path, stdout=log,
                                  stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: healthy(f"http://127.0.0.1:{port}"), "the server to answer")
        outputs = {}
        for command in commands:  # another terminal: the same folder, a plain environment
            result = subprocess.run(SMSCRM + shlex.split(command)[1:], env=env, cwd=tmp_path, capture_output=True,
                                    text=True)
            assert result.returncode == 0, f"{command}\n{result.stdout}{result.stderr}"
            outputs[command] = result.stdout
    finally:
        server.terminate()
        server.wait(timeout=30)
    listed = next(output for command, output in outputs.items() if " merchant list" in command)
    assert listed.splitlines() == ["1  Demo Tea House  +15005550006"]
    joined = next(output for command, output in outputs.items() if "JOIN Ann" in command)
    assert "Welcome to Demo Tea House, Ann!" in joined
    key = next(output for command, output in outputs.items() if " apikey create " in command)
    assert key.splitlines()[-1].startswith("sk_")
    assert not (tmp_path / "instance" / "server-url").exists()  # the server said where it was while it ran


def healthy(url: str) -> bool:
    try:
        return requests.get(f"{url}/healthz", timeout=2).status_code == 200
    except requests.ConnectionError:
        return False
