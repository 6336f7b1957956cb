package cluster_test

import (
	"context"
	"fmt"
	"log"

	"wharf/channels"
	"wharf/cluster"
)

// A node joins the cluster through a NATS server, and its Hub uses it as
// broker and presence. Every node does the same with its own NodeName;
// with a shared channels.SQLHistory, offsets agree across nodes.
func ExampleNew() {
	node, err := cluster.New(cluster.Config{URL: "nats://127.0.0.1:4222", NodeName: "web-1"})
	if err != nil {
		log.Fatal(err)
	}
	defer node.Close()
	hub, err := channels.NewHub(channels.Config{
		Encoder:  channels.EncoderFunc(func(dst []byte, m *channels.Message) ([]byte, error) { return channels.AppendJSON(dst, m), nil }),
		Broker:   node,
		Presence: node,
	})
	if err != nil {
		log.Fatal(err)
	}
	// Delivered here at once, and to the other nodes through NATS (or,
	// while the server is away, here only).
	room, _ := channels.ParseName("room:lobby")
	if _, err := hub.Publish(context.Background(), room, []byte(`{"text":"hi"}`)); err != nil {
		log.Fatal(err)
	}
}

// Nodes lists the cluster as this node sees it, for a dashboard.
func ExampleNode_Nodes() {
	var node *cluster.Node // from cluster.New
	for _, n := range node.Nodes() {
		fmt.Printf("%s self=%v connections=%d presence=%d last seen %v\n", n.Name, n.Self, n.Connections, n.Presence, n.LastSeen)
	}
}

// Stats are per node; a wharfd master sums its workers' with Add.
func ExampleStats_Add() {
	var total cluster.Stats
	for _, st := range []cluster.Stats{{Published: 3, Nodes: 2}, {Published: 4, Nodes: 2}} {
		total.Add(st)
	}
	fmt.Println(total.Published, total.Nodes)
	// Output: 7 2
}
