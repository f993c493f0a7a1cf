package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	buildOnce    sync.Once
	serverBinary string
	buildErr     error
)

// builtServer builds the facade once per test run, as CI's release build does.
func builtServer(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "facade-test-")
		if err != nil {
			buildErr = err
			return
		}
		serverBinary = filepath.Join(dir, "facade")
		out, err := exec.Command("go", "build", "-o", serverBinary, ".").CombinedOutput()
		if err != nil {
			buildErr = err
			serverBinary = string(out)
		}
	})
	if buildErr != nil {
		t.Fatalf("go build: %v\n%s", buildErr, serverBinary)
	}
	return serverBinary
}

// serverProcess is the facade running as a process of its own.
type serverProcess struct {
	base string
	cmd  *exec.Cmd
	stop func()
	mu   sync.Mutex
	logs strings.Builder // what it wrote to stderr
}

// Logs stops the server, which writes out its buffered log lines, and returns all it logged.
func (p *serverProcess) Logs() string {
	p.stop()
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logs.String()
}

func (p *serverProcess) logsSoFar() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logs.String()
}

// startProcess runs the built facade on a free port with env (and nothing of the test's own
// environment but PATH and HOME), waits for /readyz, and stops it with SIGTERM at the end.
func startProcess(t *testing.T, env map[string]string) *serverProcess {
	t.Helper()
	p := &serverProcess{}
	ctx, cancel := context.WithCancel(context.Background())
	p.cmd = exec.CommandContext(ctx, builtServer(t), "--port", "0")
	p.cmd.Cancel = func() error { return p.cmd.Process.Signal(os.Interrupt) }
	p.cmd.WaitDelay = 10 * time.Second
	p.cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range env {
		p.cmd.Env = append(p.cmd.Env, k+"="+v)
	}
	stdout, _ := p.cmd.StdoutPipe()
	stderr, _ := p.cmd.StderrPipe()
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		b := make([]byte, 4096)
		for {
			n, err := stderr.Read(b)
			p.mu.Lock()
			p.logs.Write(b[:n])
			p.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	var once sync.Once
	p.stop = func() {
		once.Do(func() {
			cancel()
			<-done
			p.cmd.Wait()
		})
	}
	t.Cleanup(p.stop)
	lines := bufio.NewScanner(stdout)
	if !lines.Scan() || !strings.HasPrefix(lines.Text(), "listening on ") {
		t.Fatalf("the server printed %q, want its address; its log:\n%s", lines.Text(), p.logsSoFar())
	}
	go io.Copy(io.Discard, stdout)
	p.base = strings.Replace(strings.TrimPrefix(lines.Text(), "listening on "), "[::]", "127.0.0.1", 1)
	for i := 0; ; i++ {
		resp, err := http.Get(p.base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		if i == 100 {
			t.Fatalf("/readyz never answered: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
