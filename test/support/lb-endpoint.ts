/** An LbEndpoint at one socket address, for the encoder's and the frozen-facts tests (not frozen). */
import { create } from "@bufbuild/protobuf";
import {
  type LbEndpoint,
  LbEndpointSchema,
} from "../../src/gen/envoy/config/endpoint/v3/endpoint_components_pb.js";

export function lbEndpointAt(address: string, port: number, loadBalancingWeight?: number): LbEndpoint {
  return create(LbEndpointSchema, {
    hostIdentifier: {
      case: "endpoint",
      value: {
        address: {
          address: {
            case: "socketAddress",
            value: { address, portSpecifier: { case: "portValue", value: port } },
          },
        },
      },
    },
    ...(loadBalancingWeight !== undefined ? { loadBalancingWeight } : {}),
  });
}
