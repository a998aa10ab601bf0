"""Shared fixtures for real-browser tests: a throw-away JupyterLab server and headless Chromium.

Nothing here installs anything. Browser tests skip when Chromium or the `playwright` package is
missing, unless `LT_DARTS_REQUIRE_BROWSER=1` (set in CI), in which case they fail instead.
"""
import json, os, secrets, signal, socket, subprocess, sys, time, urllib.request
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
ARTIFACTS = Path(__file__).parent/"artifacts"


@pytest.fixture(scope="session")
def browser_requirements():
    "Skip (or fail when LT_DARTS_REQUIRE_BROWSER=1) unless Chromium and playwright are both present."
    missing = []
    if not os.access(CHROMIUM, os.X_OK): missing.append(f"{CHROMIUM} (apt-get install -y chromium)")
    try: import playwright.sync_api  # noqa: F401
    except ImportError: missing.append("the playwright package (pip install playwright)")
    if missing:
        msg = "browser test needs " + " and ".join(missing)
        if os.environ.get("LT_DARTS_REQUIRE_BROWSER") == "1":
            pytest.fail(msg + "; LT_DARTS_REQUIRE_BROWSER=1 forbids skipping", pytrace=False)
        pytest.skip(msg)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0)); return s.getsockname()[1]


def _get(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as r: return json.loads(r.read() or b"null")


class Lab:
    "A running JupyterLab server: `root` is its root dir (copy notebooks there), `url(name)` opens one."
    def __init__(self, root, port, token, log):
        self.root, self.port, self.token, self.log = root, port, token, log
        self.base = f"http://127.0.0.1:{port}"
    def api(self, path, method="GET"):
        req = urllib.request.Request(f"{self.base}/api/{path}", method=method,
                                     headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(req, timeout=10) as r: return json.loads(r.read() or b"null")
    def wait_kernel_connected(self, name, timeout=60):
        "Wait until the notebook `name` has a session whose kernel is idle with a browser connected to it."
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for s in self.api("sessions") or []:
                k = s.get("kernel") or {}
                if s.get("path") == name and k.get("execution_state") == "idle" and k.get("connections", 0) >= 1: return k
            time.sleep(0.2)
        raise TimeoutError(f"no idle, connected kernel for {name} after {timeout} s; sessions: {self.api('sessions')}")
    def url(self, name): return f"{self.base}/lab/tree/{name}?reset&token={self.token}"  # reset: no restored tabs
    def shutdown_kernels(self):
        for k in self.api("kernels") or []: self.api(f"kernels/{k['id']}", method="DELETE")
    def log_tail(self, n=40): return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])


@pytest.fixture(scope="module")
def jupyter_lab(browser_requirements, tmp_path_factory):
    "Start `python -m jupyter lab` (this interpreter, so kernels import this venv's packages); always stop it."
    tmp = tmp_path_factory.mktemp("lab")
    root, cfg = tmp/"root", tmp/"config"
    (cfg/"labconfig").mkdir(parents=True); root.mkdir()
    # no "build recommended" check; isolated config/data/settings/workspaces so nothing from ~ leaks in
    (cfg/"labconfig"/"page_config.json").write_text(json.dumps({"buildCheck": False, "buildAvailable": False}))
    notif = tmp/"settings"/"@jupyterlab"/"apputils-extension"/"notification.jupyterlab-settings"
    notif.parent.mkdir(parents=True)  # no "get Jupyter news?" toast, no update check
    notif.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(cfg), JUPYTER_DATA_DIR=str(tmp/"data"),
               JUPYTER_RUNTIME_DIR=str(tmp/"runtime"), JUPYTERLAB_SETTINGS_DIR=str(tmp/"settings"),
               JUPYTERLAB_WORKSPACES_DIR=str(tmp/"workspaces"), IPYTHONDIR=str(tmp/"ipython"),
               PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
    env.pop("MPLBACKEND", None)  # the kernel must use the inline backend, as users get it
    port, token, log = _free_port(), secrets.token_hex(16), tmp/"jupyter.log"
    cmd = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ServerApp.ip=127.0.0.1",
           f"--ServerApp.port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
           f"--ServerApp.root_dir={root}", "--LabApp.news_url=None",
           "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    if hasattr(os, "geteuid") and os.geteuid() == 0: cmd.append("--allow-root")  # CI containers run as root
    with open(log, "wb") as logf:
        proc = subprocess.Popen(cmd, env=env, stdout=logf, stderr=subprocess.STDOUT, start_new_session=True)
    lab = Lab(root, port, token, log)
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None: pytest.fail(f"jupyter lab exited ({proc.returncode}):\n{lab.log_tail()}")
            try:
                lab.api("status"); break
            except OSError:
                if time.monotonic() > deadline: pytest.fail(f"jupyter lab not up after 60 s:\n{lab.log_tail()}")
                time.sleep(0.25)
        yield lab
    finally:
        try: lab.shutdown_kernels()
        except Exception: pass
        proc.terminate()
        try: proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL); proc.wait(timeout=10)
        ARTIFACTS.mkdir(exist_ok=True)
        try: (ARTIFACTS/"jupyter.log").write_bytes(log.read_bytes())
        except OSError: pass


@pytest.fixture
def lab(jupyter_lab):
    "The module's JupyterLab server, with every kernel shut down after each test."
    yield jupyter_lab
    try: jupyter_lab.shutdown_kernels()
    except OSError: pass


@pytest.fixture(scope="module")
def chromium(browser_requirements):
    "Headless system Chromium driven by playwright (never `playwright install`); always closed."
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS, timeout=30_000)
        try: yield browser
        finally: browser.close()


@pytest.fixture
def page(chromium):
    "A fresh browser context (own cookies/storage) and page per test."
    ctx = chromium.new_context(viewport={"width": 1400, "height": 1000})
    ctx.set_default_timeout(30_000)
    try: yield ctx.new_page()
    finally: ctx.close()
