"""Access and disclosure: the app serves only its own assets and shows no secrets or server paths."""

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
from gradio_client import Client
from gradio_client.exceptions import ValidationError

from tests.conftest import ROOT, free_port


def fetch(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=20) as r:
            return r.status, r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode("utf-8", "replace")


@pytest.mark.parametrize(
    "path",
    [
        "/gradio_api/file=/etc/passwd",
        "/gradio_api/file=../../../../../../etc/passwd",
        "/gradio_api/file=..%2F..%2F..%2F..%2F..%2Fetc%2Fpasswd",
        "/gradio_api/file=%2Fetc%2Fpasswd",
        "/file=/etc/passwd",
        "/gradio_api/file=app.py",
        "/gradio_api/file=reward/config.py",
        "/static/../../../../etc/passwd",
        "/assets/..%2F..%2F..%2F..%2Fetc%2Fpasswd",
    ],
)
def test_files_outside_the_apps_assets_are_refused(app_url, path):
    status, body = fetch(app_url + path)
    assert "root:x:0:0" not in body, f"{path} leaked /etc/passwd"
    assert "def build_demo" not in body and "SETTINGS_HELP" not in body, f"{path} leaked the app's source"
    assert status in (400, 403, 404, 405), f"{path} answered {status}"


def test_the_model_folder_is_not_served(app_url, tiny_model_dir):
    for name in ("config.json", "model.safetensors", "tokenizer.json"):
        status, body = fetch(f"{app_url}/gradio_api/file={tiny_model_dir / name}")
        assert status in (403, 404), (name, status)


def test_uploads_are_size_limited(app_url):
    from reward.config import MAX_FILE_BYTES

    # The limit is enforced by the server: one byte over is refused before it is stored.
    boundary = "xxBOUNDARYxx"
    payload = b"x" * (MAX_FILE_BYTES + 1)
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"big.csv\"\r\n"
            f"Content-Type: text/csv\r\n\r\n").encode() + payload + f"\r\n--{boundary}--\r\n".encode()
    req = urllib.request.Request(f"{app_url}/gradio_api/upload", data=body, method="POST",
                                 headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(req, timeout=120)
    assert err.value.code == 413


def test_no_secret_or_server_path_reaches_the_page_or_the_errors(tmp_path, tiny_model_dir):
    secret = "hf_NOT_A_REAL_TOKEN_0123456789abcdef"
    port = free_port()
    env = {**os.environ, "GRADIO_SERVER_PORT": str(port), "GRADIO_SERVER_NAME": "127.0.0.1", "HF_TOKEN": secret,
           "REWARD_MODEL": str(tiny_model_dir), "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False"}
    proc = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and fetch_or_none(url) is None:
            time.sleep(0.3)
        seen = [fetch(url + "/")[1], fetch(url + "/config")[1], fetch(url + "/gradio_api/info")[1]]
        client = Client(url, verbose=False)
        for bad in [("", ["a"]), ("Why?", ["x" * 20_001]), ("Why?", [])]:
            with pytest.raises(ValidationError) as err:
                client.predict(*bad, api_name="/score")
            seen.append(str(err.value))
        seen.append(str(client.predict("Why?", ["fine"], api_name="/score")))
        for text in seen:
            assert secret not in text
            assert str(tiny_model_dir) not in text, "the model folder's full path is shown"
            assert str(ROOT) not in text, "the app's folder is shown"
        assert tiny_model_dir.name in seen[1], "the model panel should still name the model"
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def fetch_or_none(url):
    try:
        return fetch(url)
    except OSError:
        return None


def test_scoring_writes_nothing_into_the_working_tree(client):
    before = {p for p in ROOT.rglob("*") if ".git" not in p.parts and "artifacts" not in p.parts
              and "__pycache__" not in p.parts and ".pytest_cache" not in p.parts and ".hypothesis" not in p.parts}
    client.predict("Why?", ["a", "b"], api_name="/score")
    after = {p for p in ROOT.rglob("*") if ".git" not in p.parts and "artifacts" not in p.parts
             and "__pycache__" not in p.parts and ".pytest_cache" not in p.parts and ".hypothesis" not in p.parts}
    assert after == before
