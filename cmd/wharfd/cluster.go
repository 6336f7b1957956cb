package main

import (
	"fmt"
	"strconv"
	"time"

	"wharf/cluster"
	"wharf/config"
	"wharf/internal/subject"
	"wharf/supervisor"
	"wharf/web"
)

// nodeName is the cluster node name of the process in slot: node_name for
// a single process, node_name-SLOT for worker SLOT of processes = N (cut
// so the whole fits subject.MaxNodeName).
func nodeName(cfg config.Config, slot int) string {
	name := cfg.ResolvedNodeName()
	if cfg.ResolvedProcesses() == 0 {
		return name
	}
	suffix := "-" + strconv.Itoa(slot)
	if len(name)+len(suffix) > subject.MaxNodeName {
		name = name[:subject.MaxNodeName-len(suffix)]
	}
	return name + suffix
}

// joinCluster makes the instance a node of the [cluster], or does nothing
// without a broker. The node carries the channels' messages, presence and
// the chat's logouts between nodes (and between this master's workers,
// each a node): appChannels and startInstance use it instead of the
// master's relay.
func (in *instance) joinCluster(env *supervisor.Env) error {
	c := in.cfg.Cluster
	if c.Broker == "" {
		return nil
	}
	node, err := cluster.New(cluster.Config{
		URL:         c.Broker,
		NodeName:    nodeName(in.cfg, env.Slot),
		Prefix:      c.SubjectPrefix,
		Heartbeat:   time.Duration(c.Heartbeat),
		DeadAfter:   time.Duration(c.DeadAfter),
		Connections: in.online,
		Logger:      in.log,
	})
	if err != nil {
		return fmt.Errorf("wharfd: [cluster]: %w", err)
	}
	in.node = node
	return nil
}

// online is the packet server's open connections, for the node's
// heartbeats (0 before the server exists). Called on the node's
// goroutine.
func (in *instance) online() int64 {
	if s := in.srvp.Load(); s != nil {
		return s.Online()
	}
	return 0
}

// clusterStats is the cluster section of the instance's Stats, nil
// outside a cluster.
func (in *instance) clusterStats() *web.ClusterStats {
	if in.node == nil {
		return nil
	}
	return &web.ClusterStats{Stats: in.node.Stats(), NodeList: in.node.Nodes()}
}

// describeCluster is the startup line's part about the cluster.
func (in *instance) describeCluster() string {
	if in.node == nil {
		return ""
	}
	return "cluster node " + in.node.Name() + " via " + cluster.RedactURL(in.cfg.Cluster.Broker)
}
