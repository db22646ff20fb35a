// Command grpc-go-client is a proxyless gRPC client for dns-eds's tests: grpc-go's own xDS resolver
// and balancers (registered by importing google.golang.org/grpc/xds) dial xds:///NAME from the
// bootstrap in GRPC_XDS_BOOTSTRAP or GRPC_XDS_BOOTSTRAP_CONFIG, and the program calls the test
// backends' /dnseds.test.Who/Ask at a fixed pace, printing one JSON line per call on stdout: the
// backend that answered (its own address, which is what the backends reply) or the gRPC status code
// and message. A TypeScript test reads those lines to see where calls land and how many fail.
//
// The Who service has no .proto: the backends take and return raw bytes (request empty, reply the
// backend's address), so the call uses a pass-through codec instead of a generated stub.
//
// Several -target flags make one process (one xDS client, one ADS stream) call each target in turn;
// each line names its target.
//
// Every run is bounded: -count calls (0 = no count limit), at most -max-run wall time, and it stops
// when stdin reaches EOF, so a test runner that dies without killing it does not leave it behind.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	_ "google.golang.org/grpc/xds" // registers the xds:/// resolver and the xDS balancers
)

const whoMethod = "/dnseds.test.Who/Ask"

// rawCodec passes bytes through unchanged. Its name is "proto" so the request carries the ordinary
// content-type application/grpc that the backends (grpc-js with identity serializers) expect.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) {
	b, ok := v.(*[]byte)
	if !ok {
		return nil, fmt.Errorf("rawCodec: cannot marshal %T", v)
	}
	return *b, nil
}

func (rawCodec) Unmarshal(data []byte, v any) error {
	b, ok := v.(*[]byte)
	if !ok {
		return fmt.Errorf("rawCodec: cannot unmarshal into %T", v)
	}
	*b = append((*b)[:0], data...)
	return nil
}

func (rawCodec) Name() string { return "proto" }

// line is one JSON line on stdout. Event "start" once, "call" per call, "end" once.
type line struct {
	Event   string   `json:"event"`
	Seq     int      `json:"seq,omitempty"`
	Ms      int64    `json:"ms,omitempty"` // milliseconds since the program started
	Backend string   `json:"backend,omitempty"`
	Code    string   `json:"code,omitempty"`
	Error   string   `json:"error,omitempty"`
	Grpc    string   `json:"grpc,omitempty"`
	Go      string   `json:"go,omitempty"`
	Target  string   `json:"target,omitempty"`
	Targets []string `json:"targets,omitempty"`
	Calls   int      `json:"calls,omitempty"`
	Failed  int      `json:"failed,omitempty"`
}

// targetList collects repeated -target flags.
type targetList []string

func (t *targetList) String() string     { return fmt.Sprint(*t) }
func (t *targetList) Set(v string) error { *t = append(*t, v); return nil }

func main() {
	var targets targetList
	flag.Var(&targets, "target", "dial target, e.g. xds:///svc (required; repeat to call several in turn)")
	count := flag.Int("count", 0, "number of calls; 0 = until stdin closes, a signal or -max-run")
	interval := flag.Duration("interval", 100*time.Millisecond, "time between the starts of two calls")
	timeout := flag.Duration("timeout", 2*time.Second, "deadline of one call")
	maxRun := flag.Duration("max-run", 10*time.Minute, "hard bound on the whole run")
	flag.Parse()
	if len(targets) == 0 || *interval <= 0 || *timeout <= 0 || *maxRun <= 0 || *count < 0 {
		fmt.Fprintln(os.Stderr, "usage: grpc-go-client -target xds:///NAME [-target ...] [-count N] [-interval D] [-timeout D] [-max-run D]")
		os.Exit(2)
	}
	os.Exit(run(targets, *count, *interval, *timeout, *maxRun))
}

func run(targets []string, count int, interval, timeout, maxRun time.Duration) int {
	start := time.Now()
	out := json.NewEncoder(os.Stdout)
	emit := func(l line) {
		if err := out.Encode(l); err != nil {
			// stdout gone: nobody is reading, so stop.
			os.Exit(1)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), maxRun)
	defer cancel()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-sigs
		cancel()
	}()
	go func() {
		// The parent holds our stdin; EOF means it is gone or wants us to stop.
		_, _ = io.Copy(io.Discard, os.Stdin)
		cancel()
	}()

	conns := make([]*grpc.ClientConn, 0, len(targets))
	for _, target := range targets {
		conn, err := grpc.NewClient(target, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			emit(line{Event: "end", Code: "DialFailed", Target: target, Error: err.Error()})
			return 1
		}
		defer conn.Close()
		conns = append(conns, conn)
	}
	emit(line{Event: "start", Grpc: grpc.Version, Go: runtime.Version(), Targets: targets})

	calls, failed := 0, 0
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for count == 0 || calls < count {
		i := calls % len(conns)
		callCtx, callCancel := context.WithTimeout(ctx, timeout)
		req, resp := []byte{}, []byte{}
		err := conns[i].Invoke(callCtx, whoMethod, &req, &resp, grpc.ForceCodec(rawCodec{}))
		callCancel()
		if ctx.Err() != nil {
			break // stopped while the call was in flight: not a result of the call
		}
		calls++
		l := line{Event: "call", Seq: calls, Ms: time.Since(start).Milliseconds(), Target: targets[i]}
		if err != nil {
			failed++
			s, _ := status.FromError(err)
			l.Code, l.Error = s.Code().String(), s.Message()
		} else {
			l.Backend = string(resp)
		}
		emit(l)
		select {
		case <-ctx.Done():
		case <-ticker.C:
		}
		if ctx.Err() != nil {
			break
		}
	}
	end := line{Event: "end", Calls: calls, Failed: failed, Ms: time.Since(start).Milliseconds()}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		end.Code = "MaxRun"
	}
	emit(end)
	return 0
}
