// Package playgroundtest drives the GraphQL playground in a real headless
// Chromium, so that tests of any package can prove that a person who opens
// the playground sees it render and can run its pre-filled query.
//
// A browser is the only honest test of the playground: the page is mostly
// third-party JavaScript under a strict Content-Security-Policy, and an HTTP
// test cannot tell whether that script runs. The harness therefore also fails
// the test on every Content-Security-Policy violation and every uncaught
// exception, and when a header value from the headers editor turns up in
// localStorage.
//
// It uses Debian's chromium package (see ChromiumPath) through chromedp.
package playgroundtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Timeout bounds the steps of one Page together, from the browser's start
// to the last wait. It is generous because CI machines are slow and
// Chromium's first start on a fresh profile takes seconds; the tests assert
// what happens, never how fast. The browser itself lives a little longer,
// to take a screenshot of a page that did not get there.
const Timeout = 60 * time.Second

// failureGrace is how long the browser outlives Timeout.
const failureGrace = 10 * time.Second

// Selectors of GraphiQL 3.9's page; an upgrade that renames them makes Open
// fail with a message that names the missing one.
const (
	executeButton = ".graphiql-execute-button"
	queryEditor   = ".graphiql-query-editor .CodeMirror"
	// The section names its visible editor, and the headers editor is the
	// second one; a hidden headers editor does not match.
	headersEditor = `.graphiql-editor-tool[aria-label="Headers"] .graphiql-editor:not(.hidden) .CodeMirror`
	resultEditor  = ".graphiql-response .CodeMirror"
)

// ChromiumPath returns the Chromium binary to drive: $CHROMIUM if set, else
// Debian's /usr/bin/chromium, else chromium on PATH. Without one the test is
// skipped with a message that says how to install it, except under CI=true,
// where a skipped browser test would hide a broken playground, so the test
// fails instead. A $CHROMIUM that is not an executable always fails the
// test: it is a mistake, not a machine without a browser.
func ChromiumPath(t testing.TB) string {
	t.Helper()
	return chromiumPath(t, os.Getenv, []string{"/usr/bin/chromium", "chromium"})
}

func chromiumPath(t testing.TB, getenv func(string) string, candidates []string) string {
	t.Helper()
	if p := getenv("CHROMIUM"); p != "" {
		found, err := exec.LookPath(p)
		if err != nil {
			t.Fatalf("CHROMIUM=%q is not an executable: %v", p, err)
		}
		return found
	}
	for _, p := range candidates {
		if found, err := exec.LookPath(p); err == nil {
			return found
		}
	}
	const msg = "no Chromium found: run `apt-get install chromium` or set CHROMIUM to its path"
	if getenv("CI") == "true" {
		t.Fatal(msg + " (CI=true: browser tests must run)")
	}
	t.Skip(msg)
	return ""
}

// RunPrefilledQuery opens the playground at pageURL, waits until GraphiQL has
// rendered and loaded the schema, clicks the run button, waits until the
// result pane shows a response with "data", saves a PNG screenshot of the
// window to screenshotPath, and returns the result pane's text. Any step that
// does not happen within Timeout fails the test, with a screenshot of what
// the page showed instead.
func RunPrefilledQuery(t testing.TB, pageURL, screenshotPath string) string {
	t.Helper()
	p := Open(t, pageURL)
	defer p.Close()
	result := p.Run()
	p.Screenshot(screenshotPath)
	return result
}

// Page is the playground in one headless Chromium of its own. Its methods
// fail the test on error; they are for the test's goroutine only.
type Page struct {
	t           testing.TB
	ctx         context.Context // the tab, for the browser's whole life
	steps       context.Context // the tab until Timeout, for the steps of the test
	cancel      context.CancelFunc
	profile     string
	closeOnce   sync.Once
	consoleDone chan struct{} // closed when the console reader ends; nil before it starts

	mu      sync.Mutex
	console []chromedp.ConsoleMessage
}

// Open starts Chromium, loads pageURL and waits until GraphiQL has rendered
// with its query editor filled and has loaded the schema by introspection.
// The browser ends with Close, or at the end of the test.
func Open(t testing.TB, pageURL string) *Page {
	t.Helper()
	exe := ChromiumPath(t)
	profile, err := os.MkdirTemp("", "playgroundtest-chromium-")
	if err != nil {
		t.Fatalf("create Chromium profile directory: %v", err)
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), Timeout+failureGrace)
	// The flags repeat chromedp's defaults that matter here, so the list is
	// whole in one place. This machine and CI reach no network but package
	// registries, and Chromium hangs on its background connections (QUIC,
	// component updates, sync, ...) unless they are off; a fresh profile
	// directory keeps one run's state out of the next.
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoSandbox, // tests run as root in containers
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-domain-reliability", true),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1400, 900),
	)
	allocCtx, allocCancel := chromedp.NewExecAllocator(ctx, opts...)
	tabCtx, tabCancel := chromedp.NewContext(allocCtx)
	// Derived from the tab, so it limits the steps but not the browser,
	// which lives as long as the context of its first Run.
	steps, stepsCancel := context.WithDeadline(tabCtx, start.Add(Timeout))

	p := &Page{
		t:     t,
		ctx:   tabCtx,
		steps: steps,
		// The order matters: close the tab, then wait for the browser to
		// exit (the allocator's cancel waits), and only then drop the
		// timeout, so the profile is no longer in use when it is removed.
		cancel: func() {
			stepsCancel()
			tabCancel()
			allocCancel()
			cancel()
		},
		profile: profile,
	}
	t.Cleanup(p.Close)

	// Start the browser, then listen to the console before the page loads.
	if err := chromedp.Do(tabCtx); err != nil {
		p.fatalf("start Chromium %s: %v", exe, err)
	}
	messages := chromedp.Console(tabCtx)
	p.consoleDone = make(chan struct{})
	go func() {
		defer close(p.consoleDone)
		for m, err := range messages {
			if err != nil {
				return // the tab has ended
			}
			p.mu.Lock()
			p.console = append(p.console, m)
			p.mu.Unlock()
		}
	}()

	if err := chromedp.Do(steps, chromedp.Navigate(pageURL)); err != nil {
		p.fatalf("open %s: %v", pageURL, err)
	}
	p.waitLoaded()
	return p
}

// waitLoaded waits until the run button is there, the query editor has text
// and the editors know the schema. GraphiQL fetches the schema right after
// it renders; a query run before that still works, but a screenshot would
// show a playground without documentation.
func (p *Page) waitLoaded() {
	p.t.Helper()
	p.waitFor("GraphiQL to render and load the schema", fmt.Sprintf(`(() => {
		const run = document.querySelector(%s);
		const q = document.querySelector(%s);
		if (!run || !q || !q.CodeMirror) return false;
		const cm = q.CodeMirror;
		return cm.getValue().trim() !== '' && !!(cm.options.hintOptions && cm.options.hintOptions.schema);
	})()`, jsString(executeButton), jsString(queryEditor)))
}

// Run clicks the run button and waits until the result pane shows a response
// containing "data", then returns the pane's text. It empties the pane first,
// so a response from an earlier Run cannot be mistaken for this one.
func (p *Page) Run() string {
	p.t.Helper()
	if err := chromedp.Do(p.steps,
		chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`document.querySelector(%s).CodeMirror.setValue('')`, jsString(resultEditor))),
		chromedp.Click(chromedp.CSS(executeButton), chromedp.NodeVisible),
	); err != nil {
		p.fatalf("click the run button: %v", err)
	}
	p.waitFor(`a response with "data" in the result pane`,
		fmt.Sprintf(`document.querySelector(%s).CodeMirror.getValue().includes('"data"')`, jsString(resultEditor)))
	return p.editorText(resultEditor)
}

// SetQuery replaces the query editor's text, as a person typing it would.
func (p *Page) SetQuery(query string) {
	p.t.Helper()
	if err := chromedp.Do(p.steps, chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`document.querySelector(%s).CodeMirror.setValue(%s)`, jsString(queryEditor), jsString(query)))); err != nil {
		p.fatalf("set the query: %v", err)
	}
}

// Start empties the result pane and clicks the run button without waiting for a result: a
// subscription's results come later (see WaitResult).
func (p *Page) Start() {
	p.t.Helper()
	if err := chromedp.Do(p.steps,
		chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`document.querySelector(%s).CodeMirror.setValue('')`, jsString(resultEditor))),
		chromedp.Click(chromedp.CSS(executeButton), chromedp.NodeVisible),
	); err != nil {
		p.fatalf("click the run button: %v", err)
	}
}

// ResultText returns the result pane's text now.
func (p *Page) ResultText() string {
	p.t.Helper()
	return p.editorText(resultEditor)
}

// Click clicks the visible element that the CSS selector finds, waiting for
// it to appear, as a person would click a button such as GraphiQL's
// ".graphiql-tab-add" or `[aria-label="Open settings dialog"]`.
func (p *Page) Click(selector string) {
	p.t.Helper()
	if err := chromedp.Do(p.steps, chromedp.Click(chromedp.CSS(selector), chromedp.NodeVisible)); err != nil {
		p.fatalf("click %s: %v", selector, err)
	}
}

// ClickLink clicks the first visible link whose text is text, waiting for it to appear, as a
// person clicks the type "Contract" in the documentation explorer.
func (p *Page) ClickLink(text string) {
	p.t.Helper()
	xpath := chromedp.Search(fmt.Sprintf(`//a[normalize-space()=%s]`, jsString(text)))
	if err := chromedp.Do(p.steps, chromedp.Click(xpath, chromedp.NodeVisible)); err != nil {
		p.fatalf("click the link %q: %v", text, err)
	}
}

// Text returns the text that the visible element found by the CSS selector
// shows, waiting for it to appear, such as the documentation explorer's
// ".graphiql-doc-explorer". For an editor's whole text use QueryText,
// HeadersText or Run's result: CodeMirror draws only the lines in view.
func (p *Page) Text(selector string) string {
	p.t.Helper()
	s, err := chromedp.Run(p.steps, chromedp.Text(chromedp.CSS(selector), chromedp.NodeVisible))
	if err != nil {
		p.fatalf("read the text of %s: %v", selector, err)
	}
	return s
}

// QueryText returns the text of the query editor.
func (p *Page) QueryText() string {
	p.t.Helper()
	return p.editorText(queryEditor)
}

// HeadersText returns the text of the headers editor, and fails the test if
// that editor is not the one on show below the query: the playground opens
// with the headers in view, so a visitor sees the Authorization header.
func (p *Page) HeadersText() string {
	p.t.Helper()
	return p.editorText(headersEditor)
}

// LocalStorage returns what the page keeps in localStorage, which is what
// outlives the tab on a visitor's disk.
func (p *Page) LocalStorage() map[string]string {
	p.t.Helper()
	m, err := chromedp.Run(p.steps, chromedp.Evaluate[map[string]string](
		`Object.fromEntries(Object.keys(localStorage).map(k => [k, localStorage.getItem(k)]))`))
	if err != nil {
		p.fatalf("read localStorage: %v", err)
	}
	return m
}

// Reload reloads the page, as a visitor who comes back would, and waits
// until GraphiQL has loaded again.
func (p *Page) Reload() {
	p.t.Helper()
	if err := chromedp.Do(p.steps, chromedp.Reload()); err != nil {
		p.fatalf("reload: %v", err)
	}
	p.waitLoaded()
}

// Screenshot saves a PNG of the window to path, creating its directory.
func (p *Page) Screenshot(path string) {
	p.t.Helper()
	if err := p.screenshot(path); err != nil {
		p.fatalf("screenshot: %v", err)
	}
}

// Close ends the browser and reports what the page wrote to the console:
// a Content-Security-Policy violation or an uncaught exception fails the
// test, anything else is logged. It is safe to call more than once.
func (p *Page) Close() {
	p.t.Helper()
	p.closeOnce.Do(func() {
		p.checkStorage()
		p.cancel()
		if p.consoleDone != nil {
			<-p.consoleDone // the reader ends with the tab
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, m := range p.console {
			switch {
			case isCSPViolation(m):
				p.t.Errorf("the page violated its Content-Security-Policy: %s", m.Text)
			case m.IsException():
				p.t.Errorf("uncaught exception in the page at %s:%d: %s", m.URL, m.Line+1, m.Text)
			default:
				p.t.Logf("browser console: %s", m)
			}
		}
		removeProfile(p.t, p.profile)
	})
}

// checkStorage fails the test when a value of the headers editor, such as a
// bearer token, has reached localStorage: the playground promises that
// headers do not outlive the tab. Values shorter than 8 bytes are not
// checked, as "1" or "true" would turn up in any storage by chance.
func (p *Page) checkStorage() {
	p.t.Helper()
	if p.ctx.Err() != nil {
		return // the browser is gone; the failure that ended it is reported
	}
	headers, err := chromedp.Run(p.ctx, chromedp.Evaluate[string](
		fmt.Sprintf(`(document.querySelector(%s) || {CodeMirror: {getValue: () => ''}}).CodeMirror.getValue()`, jsString(headersEditor))))
	if err != nil {
		return // the page is not GraphiQL any more; nothing to compare
	}
	var values map[string]any
	if json.Unmarshal([]byte(headers), &values) != nil {
		return
	}
	storage, err := chromedp.Run(p.ctx, chromedp.Evaluate[string](`JSON.stringify(localStorage)`))
	if err != nil {
		p.t.Errorf("read localStorage: %v", err)
		return
	}
	for name, v := range values {
		if s, ok := v.(string); ok && len(s) >= 8 && strings.Contains(storage, s) {
			p.t.Errorf("the value of header %s is stored in localStorage: %s", name, storage)
		}
	}
}

// jsString returns s as a JavaScript string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s) // a string always encodes
	return string(b)
}

func isCSPViolation(m chromedp.ConsoleMessage) bool {
	return strings.Contains(m.Text, "Content Security Policy") || strings.Contains(m.Text, "Content-Security-Policy")
}

// editorText returns the whole text of a GraphiQL editor, including the lines
// that CodeMirror has not drawn because they are scrolled out of view.
func (p *Page) editorText(selector string) string {
	p.t.Helper()
	s, err := chromedp.Run(p.steps, chromedp.Evaluate[string](
		fmt.Sprintf(`document.querySelector(%s).CodeMirror.getValue()`, jsString(selector))))
	if err != nil {
		p.fatalf("read editor %s: %v", selector, err)
	}
	return s
}

// waitFor evaluates the JavaScript expression cond until it is true. It
// polls from Go, not with chromedp.Poll: that builds its predicate with
// new Function, which the page's Content-Security-Policy forbids.
func (p *Page) waitFor(what, cond string) {
	p.t.Helper()
	for {
		ok, err := chromedp.Run(p.steps, chromedp.Evaluate[bool](cond))
		if err == nil && ok {
			return
		}
		select {
		case <-p.steps.Done():
			if err == nil {
				err = p.steps.Err()
			}
			p.fatalf("wait for %s: %v (a Page has %v for all its steps)", what, err, Timeout)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// fatalf saves a screenshot of the failure when it still can, ends the
// browser and fails the test.
func (p *Page) fatalf(format string, args ...any) {
	p.t.Helper()
	msg := fmt.Sprintf(format, args...)
	if p.ctx.Err() == nil {
		dir := os.Getenv("SCREENSHOT_DIR") // where CI keeps screenshots
		if dir == "" {
			dir = os.TempDir()
		}
		shot := filepath.Join(dir, fmt.Sprintf("playgroundtest-failure-%d.png", time.Now().UnixNano()))
		if err := p.screenshot(shot); err == nil {
			msg += "\nscreenshot of the page: " + shot
		}
	}
	p.Close()
	p.t.Fatal(msg)
}

func (p *Page) screenshot(path string) error {
	// Two animation frames let the browser paint what the last step changed.
	if err := chromedp.Do(p.ctx, chromedp.Evaluate[chromedp.Void](
		`new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))`, chromedp.EvalAwaitPromise)); err != nil {
		return err
	}
	png, err := chromedp.Run(p.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, png, 0o644)
}

// removeProfile deletes Chromium's profile directory. Chromium's helper
// processes can outlive the browser by a moment and write to it, so the
// removal is retried for a while; a directory left behind is logged, not a
// failure, as it harms nothing but the disk.
func removeProfile(t testing.TB, dir string) {
	t.Helper()
	var err error
	for range 50 {
		if err = os.RemoveAll(dir); err == nil || errors.Is(err, os.ErrNotExist) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("remove Chromium profile %s: %v", dir, err)
}
