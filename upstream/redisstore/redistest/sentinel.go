package redistest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// StartSentinel starts a redis-server of t's own and one Sentinel that monitors it as master
// "mymaster", and returns the URL a client gives to reach the master through the Sentinel, in
// go-redis's form: redis://127.0.0.1:<sentinel port>?master_name=mymaster. Both stop when t
// ends. Without redis-server on PATH it skips t, or fails it when CI=true.
func StartSentinel(t testing.TB) (url string) {
	t.Helper()
	master, _, _ := startServer(t)
	opt, err := redis.ParseURL(master)
	if err != nil {
		t.Fatal(err)
	}
	bin, _ := exec.LookPath("redis-server") // startServer found it
	port, err := freePort()
	if err != nil {
		t.Fatalf("redistest: finding a free port: %v", err)
	}
	dir := t.TempDir()
	conf := filepath.Join(dir, "sentinel.conf") // Sentinel rewrites its config: it must be a file of its own
	host, masterPort, _ := splitHostPort(opt.Addr)
	body := fmt.Sprintf("port %d\nbind 127.0.0.1\ndir %s\nlogfile %s\n"+
		"sentinel monitor mymaster %s %d 1\nsentinel down-after-milliseconds mymaster 2000\n",
		port, dir, filepath.Join(dir, "sentinel.log"), host, masterPort)
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, conf, "--sentinel")
	if err := cmd.Start(); err != nil {
		t.Fatalf("redistest: starting redis-server --sentinel: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})

	// Ready once it names the master: a client asks exactly that first.
	sc := redis.NewSentinelClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", port), MaxRetries: -1})
	defer sc.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case err := <-exited:
			t.Fatalf("redistest: Sentinel on port %d exited at start (%v); its log:\n%s", port, err, tail(filepath.Join(dir, "sentinel.log")))
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		addr, err := sc.GetMasterAddrByName(ctx, "mymaster").Result()
		cancel()
		if err == nil && len(addr) == 2 && addr[1] == strconv.Itoa(masterPort) {
			return fmt.Sprintf("redis://127.0.0.1:%d?master_name=mymaster", port)
		}
		if time.Now().After(deadline) {
			t.Fatalf("redistest: Sentinel on port %d did not name its master within 10s (%v); its log:\n%s", port, err, tail(filepath.Join(dir, "sentinel.log")))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func splitHostPort(addr string) (string, int, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(p)
	return host, port, err
}
