#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Open pages in a real headless Chromium through the DevTools protocol over
--remote-debugging-pipe (fds 3 and 4, NUL-separated JSON; Python's standard
library only) and report, per page, one JSON line: the HTTP status, every
console error, exception and failed load, the numbers of the page's tables
(data-k/data-v cells), each chart's rows, series, drawn points and inked
pixels, and a PNG screenshot in OUTDIR/NAME.png.  NAME@SECONDS=URL waits
up to SECONDS, across the page's own reloads, for a page with status 200
whose charts are drawn, and says the first load's status and how many
loads there were; the shell command in $BROWSER_AFTER_FIRST, if any, is
run after that first load (e.g. to let the server finish what it made).

usage: browser.py CHROMIUM OUTDIR NAME[@SECONDS]=URL...
"""
import base64
import fcntl
import json
import os
import select
import subprocess
import sys
import tempfile
import time

PROBE = r"""(() => {
  const rows = [...document.querySelectorAll('tr[data-label], tr[data-period]')].map(tr => {
    const o = {};
    if (tr.dataset.label !== undefined) o.label = tr.dataset.label;
    if (tr.dataset.period !== undefined) o.period = tr.dataset.period;
    tr.querySelectorAll('td[data-k]').forEach(td => { o[td.dataset.k] = Number(td.dataset.v); });
    return o;
  });
  const charts = {};
  for (const [id, g] of Object.entries(window.nftallyCharts || {})) {
    let ink = 0;
    try {  // dygraphs draws the lines on hidden_ (canvas_ is for highlights)
      const c = g.hidden_;
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      for (let i = 3; i < d.length; i += 4) if (d[i]) ink++;
    } catch (e) { ink = -1; }
    const pts = g.layout_ && g.layout_.points ? g.layout_.points.map(p => p.length) : [];
    charts[id] = {rows: g.numRows(), series: g.numColumns() - 1, points: pts, ink: ink};
  }
  const nav = performance.getEntriesByType('navigation')[0];
  const h1 = document.querySelector('h1');
  return {status: nav ? nav.responseStatus : 0, title: document.title,
          h1: h1 ? h1.textContent : null, rows: rows, charts: charts,
          ready: window.nftallyReady === true, page_errors: window.nftallyErrors || [],
          text: document.body ? document.body.innerText.slice(0, 300) : ''};
})()"""


class Chromium:
    def __init__(self, exe, profile):
        cmd_r, self.cmd_w = os.pipe()
        self.res_r, res_w = os.pipe()

        def fds():
            # out of the way first: the pipes may be 3 or 4 themselves
            a = fcntl.fcntl(cmd_r, fcntl.F_DUPFD, 10)
            b = fcntl.fcntl(res_w, fcntl.F_DUPFD, 10)
            os.dup2(a, 3)  # dup2 leaves 3 and 4 open across exec
            os.dup2(b, 4)
        self.proc = subprocess.Popen(
            [exe, '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
             '--no-first-run', '--disable-background-networking',
             '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage',
             '--user-data-dir=' + profile, '--remote-debugging-pipe',
             '--window-size=1280,900', 'about:blank'],
            close_fds=False, preexec_fn=fds,
            stdout=subprocess.DEVNULL, stderr=open(os.path.join(profile, 'stderr'), 'w'))
        os.close(cmd_r)
        os.close(res_w)
        self.buf = b''
        self.next_id = 0
        self.events = []
        self.session = None

    def send(self, method, params=None, session=True, timeout=30):
        self.next_id += 1
        msg = {'id': self.next_id, 'method': method, 'params': params or {}}
        if session and self.session:
            msg['sessionId'] = self.session
        os.write(self.cmd_w, json.dumps(msg).encode() + b'\0')
        end = time.time() + timeout
        while True:
            m = self.read(end)
            if m.get('id') == self.next_id:
                if 'error' in m:
                    raise RuntimeError('%s: %s' % (method, m['error']))
                return m.get('result', {})
            self.events.append(m)

    def read(self, end):
        while b'\0' not in self.buf:
            left = end - time.time()
            if left <= 0 or not select.select([self.res_r], [], [], left)[0]:
                raise TimeoutError('Chromium did not answer in time')
            chunk = os.read(self.res_r, 1 << 20)
            if not chunk:
                raise EOFError('Chromium closed the pipe')
            self.buf += chunk
        one, self.buf = self.buf.split(b'\0', 1)
        return json.loads(one)

    def wait_event(self, method, timeout=20):
        end = time.time() + timeout
        for i, m in enumerate(self.events):
            if m.get('method') == method:
                del self.events[i]
                return m
        while True:
            m = self.read(end)
            if m.get('method') == method:
                return m
            self.events.append(m)

    def close(self):
        try:
            self.send('Browser.close', session=False, timeout=5)
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def errors_of(events):
    """Console errors, exceptions and failed loads among the events."""
    out = []
    for m in events:
        p = m.get('params', {})
        if m.get('method') == 'Runtime.exceptionThrown':
            d = p.get('exceptionDetails', {})
            out.append('exception: ' + d.get('exception', {}).get('description', d.get('text', '')))
        elif m.get('method') == 'Runtime.consoleAPICalled' and p.get('type') in ('error', 'assert'):
            out.append('console: ' + ' '.join(str(a.get('value', a.get('description', '')))
                                              for a in p.get('args', [])))
        elif m.get('method') == 'Log.entryAdded' and p.get('entry', {}).get('level') == 'error':
            e = p['entry']
            out.append('log: %s %s' % (e.get('text', ''), e.get('url', '')))
    return out


def probe(b):
    try:
        r = b.send('Runtime.evaluate', {'expression': PROBE, 'returnByValue': True})
    except RuntimeError:  # the page being replaced by its reload
        return {}
    return r.get('result', {}).get('value', {})


def visit(b, outdir, name, url):
    name, _, wait = name.partition('@')
    b.events = []
    b.send('Page.navigate', {'url': url})
    b.wait_event('Page.loadEventFired')
    first = probe(b).get('status')
    if wait and os.environ.get('BROWSER_AFTER_FIRST'):
        subprocess.run(os.environ['BROWSER_AFTER_FIRST'], shell=True, check=False)
    end = time.time() + (float(wait) if wait else 15)
    r = {}
    while time.time() < end:
        r = probe(b)
        # pages without charts (an error page) have nothing to wait for,
        # unless their reload is waited for
        if (r.get('ready') and r.get('status') == 200) or \
                (not wait and (r.get('ready') or r.get('status', 200) != 200)):
            break
        time.sleep(0.1 if not wait else 0.2)
    m = b.send('Page.getLayoutMetrics')
    size = m.get('cssContentSize') or m.get('contentSize')
    shot = b.send('Page.captureScreenshot', {
        'format': 'png', 'captureBeyondViewport': True,
        'clip': {'x': 0, 'y': 0, 'width': min(size['width'], 1600),
                 'height': min(size['height'], 4000), 'scale': 1}})
    png = os.path.join(outdir, name + '.png')
    with open(png, 'wb') as f:
        f.write(base64.b64decode(shot['data']))
    r.update(name=name, url=url, screenshot=png, errors=errors_of(b.events))
    if wait:
        r.update(first_status=first,
                 loads=1 + sum(m.get('method') == 'Page.loadEventFired' for m in b.events))
    return r


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    exe, outdir = sys.argv[1], sys.argv[2]
    profile = tempfile.mkdtemp(prefix='nftally-chromium.')
    b = Chromium(exe, profile)
    try:
        targets = b.send('Target.getTargets', session=False)['targetInfos']
        page = next(t for t in targets if t['type'] == 'page')
        b.session = b.send('Target.attachToTarget', {'targetId': page['targetId'],
                                                     'flatten': True}, session=False)['sessionId']
        for m in ('Runtime.enable', 'Page.enable', 'Log.enable'):
            b.send(m)
        b.send('Emulation.setDeviceMetricsOverride', {'width': 1280, 'height': 900,
                                                      'deviceScaleFactor': 1, 'mobile': False})
        for arg in sys.argv[3:]:
            name, url = arg.split('=', 1)
            print(json.dumps(visit(b, outdir, name, url)), flush=True)
    finally:
        b.close()
        if os.environ.get('BROWSER_KEEP_PROFILE'):
            print('profile kept in ' + profile, file=sys.stderr)
        else:
            subprocess.run(['rm', '-rf', profile])


if __name__ == '__main__':
    main()
