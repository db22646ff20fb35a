// The go-control-plane peer of the xDS benchmarks (bench/xds-process-*.mjs): a small ADS server over
// github.com/envoyproxy/go-control-plane, as a user who picked go-control-plane instead of dns-eds would
// write it. It serves ClusterLoadAssignments from the snapshot cache (one snapshot shared by every node)
// or from a LinearCache for EDS, SotW and Delta.
//
// The bench drives it over stdin, one command per line, and reads one reply line per command on stdout:
//
//	set NAME IP:PORT/HOST,...      stage an assignment (one locality, region "r", zone "z"); HOST,
//	                               optional, is each endpoint's Endpoint.hostname
//	commit                         publish what was staged; replies "ok VERSION"
//	mem                            full GC, memory back to the OS; replies "mem HEAP_ALLOC_BYTES"
//	quit                           stops the server
//
// The first stdout line is "listening PORT". Loopback only: the bench passes -listen 127.0.0.1:0.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpoint "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	endpointservice "github.com/envoyproxy/go-control-plane/envoy/service/endpoint/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	cache "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	server "github.com/envoyproxy/go-control-plane/pkg/server/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// oneGroup puts every node in one group, so one snapshot serves the whole fleet (the usual setup when
// every proxy sees the same endpoints).
type oneGroup struct{}

func (oneGroup) ID(*core.Node) string { return "all" }

func assignment(name string, addrs []string) (*endpoint.ClusterLoadAssignment, error) {
	lbs := make([]*endpoint.LbEndpoint, 0, len(addrs))
	for _, entry := range addrs {
		// "ip:port/hostname": the hostname is the DNS name dns-eds gives the same endpoint.
		a, hostname, _ := strings.Cut(entry, "/")
		host, portText, err := net.SplitHostPort(a)
		if err != nil {
			return nil, fmt.Errorf("endpoint %q: %w", a, err)
		}
		port, err := strconv.ParseUint(portText, 10, 16)
		if err != nil {
			return nil, fmt.Errorf("endpoint %q: port: %w", a, err)
		}
		lbs = append(lbs, &endpoint.LbEndpoint{
			HostIdentifier: &endpoint.LbEndpoint_Endpoint{Endpoint: &endpoint.Endpoint{
				Address: &core.Address{Address: &core.Address_SocketAddress{SocketAddress: &core.SocketAddress{
					Address:       host,
					PortSpecifier: &core.SocketAddress_PortValue{PortValue: uint32(port)},
				}}},
				Hostname: hostname,
			}},
			LoadBalancingWeight: wrapperspb.UInt32(1),
		})
	}
	return &endpoint.ClusterLoadAssignment{
		ClusterName: name,
		Endpoints: []*endpoint.LocalityLbEndpoints{{
			Locality:            &core.Locality{Region: "r", Zone: "z"},
			LbEndpoints:         lbs,
			LoadBalancingWeight: wrapperspb.UInt32(1),
		}},
	}, nil
}

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "xDS listen address (loopback)")
	mode := flag.String("cache", "snapshot", "snapshot | linear")
	flag.Parse()

	ctx := context.Background()
	var snapshots cache.SnapshotCache
	var linear *cache.LinearCache
	var c cache.Cache
	switch *mode {
	case "snapshot":
		// ads=false: in ADS mode the snapshot cache answers only a request naming every resource of the
		// snapshot (one snapshot per node); here one shared snapshot holds every cluster and each stream
		// watches some of them. Only EDS is served, so ADS ordering does not matter.
		snapshots = cache.NewSnapshotCache(false, oneGroup{}, nil)
		c = snapshots
	case "linear":
		linear = cache.NewLinearCache(resource.EndpointType)
		c = linear
	default:
		fmt.Fprintf(os.Stderr, "unknown -cache %q\n", *mode)
		os.Exit(2)
	}
	srv := server.NewServer(ctx, c, nil)
	// The settings of go-control-plane's own example server, with dns-eds's default concurrent streams.
	gs := grpc.NewServer(
		grpc.MaxConcurrentStreams(100),
		grpc.MaxRecvMsgSize(4<<20),
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: 60 * time.Second, Timeout: 20 * time.Second}),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 5 * time.Second, PermitWithoutStream: true}),
	)
	discovery.RegisterAggregatedDiscoveryServiceServer(gs, srv)
	endpointservice.RegisterEndpointDiscoveryServiceServer(gs, srv)
	lis, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintf(os.Stderr, "listen: %v\n", err)
		os.Exit(1)
	}
	go func() {
		if err := gs.Serve(lis); err != nil {
			fmt.Fprintf(os.Stderr, "serve: %v\n", err)
			os.Exit(1)
		}
	}()
	out := bufio.NewWriter(os.Stdout)
	fmt.Fprintf(out, "listening %d\n", lis.Addr().(*net.TCPAddr).Port)
	out.Flush()

	current := map[string]types.Resource{}
	staged := map[string]types.Resource{}
	version := 0
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 64<<20)
	for in.Scan() {
		line := in.Text()
		cmd, rest, _ := strings.Cut(line, " ")
		switch cmd {
		case "set":
			name, list, _ := strings.Cut(rest, " ")
			var addrs []string
			if list != "" {
				addrs = strings.Split(list, ",")
			}
			cla, err := assignment(name, addrs)
			if err != nil {
				fmt.Fprintf(out, "error %v\n", err)
				out.Flush()
				continue
			}
			staged[name] = cla
		case "commit":
			version++
			v := strconv.Itoa(version)
			if linear != nil {
				if err := linear.UpdateResources(staged, nil); err != nil {
					fmt.Fprintf(out, "error %v\n", err)
					out.Flush()
					continue
				}
			} else {
				for n, r := range staged {
					current[n] = r
				}
				all := make([]types.Resource, 0, len(current))
				for _, r := range current {
					all = append(all, r)
				}
				snap, err := cache.NewSnapshot(v, map[resource.Type][]types.Resource{resource.EndpointType: all})
				if err == nil {
					err = snapshots.SetSnapshot(ctx, "all", snap)
				}
				if err != nil {
					fmt.Fprintf(out, "error %v\n", err)
					out.Flush()
					continue
				}
			}
			staged = map[string]types.Resource{}
			fmt.Fprintf(out, "ok %s\n", v)
		case "mem":
			runtime.GC()
			debug.FreeOSMemory()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			fmt.Fprintf(out, "mem %d\n", ms.HeapAlloc)
		case "quit":
			gs.Stop()
			out.Flush()
			return
		default:
			fmt.Fprintf(out, "error unknown command %q\n", cmd)
		}
		out.Flush()
	}
	gs.Stop()
}
