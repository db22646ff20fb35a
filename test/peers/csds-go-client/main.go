// A grpcdebug-style CSDS client (grpc-go v1.85.0 and go-control-plane's generated CSDS types), for the
// dns-eds interop tests: asks one server with FetchClientStatus (or StreamClientStatus with -stream)
// and prints one tab-separated line per resource, "RESOURCE\tnode\ttype_url\tname\tstatus\tversion\tnack",
// after one "CLIENT\tnode\tlocality-zone\tpeer" line per client. -prefix filters by node id prefix
// (a NodeMatcher), -contents asks for xds_config (and prints its type URL in a CONTENT line).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	statusv3 "github.com/envoyproxy/go-control-plane/envoy/service/status/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
)

func main() {
	server := flag.String("server", "", "CSDS server host:port")
	prefix := flag.String("prefix", "", "only nodes whose id starts with this")
	stream := flag.Bool("stream", false, "use StreamClientStatus instead of FetchClientStatus")
	contents := flag.Bool("contents", false, "ask for resource contents")
	flag.Parse()
	if *server == "" {
		fmt.Fprintln(os.Stderr, "usage: csds-go-client -server HOST:PORT [-prefix P] [-stream] [-contents]")
		os.Exit(2)
	}
	conn, err := grpc.NewClient(*server, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		fmt.Fprintln(os.Stderr, "dial:", err)
		os.Exit(1)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if *contents {
		ctx = metadata.AppendToOutgoingContext(ctx, "dns-eds-resource-contents", "include")
	}
	req := &statusv3.ClientStatusRequest{Node: &corev3.Node{Id: "csds-go-client"}}
	if *prefix != "" {
		req.NodeMatchers = []*matcherv3.NodeMatcher{{
			NodeId: &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Prefix{Prefix: *prefix}},
		}}
	}
	client := statusv3.NewClientStatusDiscoveryServiceClient(conn)
	var resp *statusv3.ClientStatusResponse
	if *stream {
		s, err := client.StreamClientStatus(ctx)
		if err == nil {
			err = s.Send(req)
		}
		if err == nil {
			resp, err = s.Recv()
		}
		if err == nil {
			err = s.CloseSend()
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "stream:", err)
			os.Exit(1)
		}
	} else {
		resp, err = client.FetchClientStatus(ctx, req)
		if err != nil {
			fmt.Fprintln(os.Stderr, "fetch:", err)
			os.Exit(1)
		}
	}
	for _, c := range resp.GetConfig() {
		peer := ""
		if f := c.GetNode().GetMetadata().GetFields()["dns_eds"]; f != nil {
			peer = f.GetStructValue().GetFields()["peer"].GetStringValue()
		}
		fmt.Printf("CLIENT\t%s\t%s\t%s\n", c.GetNode().GetId(), c.GetNode().GetLocality().GetZone(), peer)
		for _, g := range c.GetGenericXdsConfigs() {
			fmt.Printf("RESOURCE\t%s\t%s\t%s\t%s\t%s\t%s\n", c.GetNode().GetId(), g.GetTypeUrl(), g.GetName(),
				g.GetConfigStatus().String(), g.GetVersionInfo(), g.GetErrorState().GetDetails())
			if g.GetXdsConfig() != nil {
				fmt.Printf("CONTENT\t%s\t%s\t%d\n", g.GetName(), g.GetXdsConfig().GetTypeUrl(), len(g.GetXdsConfig().GetValue()))
			}
		}
	}
}
