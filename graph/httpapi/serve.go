package httpapi

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// Serve serves h on ln until ctx ends, then shuts down gracefully: the requests in flight get
// o.ShutdownTimeout to finish, and lose their connections after it. A response may take
// writeTimeout to write (the operations' own timeout and some room). It returns once the
// server's goroutine has ended.
func Serve(ctx context.Context, o Options, ln net.Listener, h http.Handler, writeTimeout time.Duration, log *slog.Logger) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing in-flight requests")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), o.ShutdownTimeout)
	defer cancel()
	err := srv.Shutdown(shutdownCtx)
	if err != nil {
		srv.Close() // the requests still running lose their connections
		err = fmt.Errorf("shutdown: %w", err)
	}
	<-served
	return err
}

// ServeAside serves h on a listener of its own at addr, away from the public port, until stop,
// and returns the address it listens on; its goroutine is bg's.
func ServeAside(bg *sync.WaitGroup, addr string, h http.Handler) (listening string, stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	bg.Go(func() { srv.Serve(ln) })
	return ln.Addr().String(), func() { srv.Close() }, nil
}
