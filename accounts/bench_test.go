package accounts

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// benchBackends are the stores benchmarks run on: the SQLite file (what
// wharfd uses by default) and PostgreSQL (skipped if not installed).
var benchBackends = []backend{backends[0], backends[2]}

var benchCosts = []struct {
	name string
	cost int
}{
	{"cost=4", bcrypt.MinCost},
	{"cost=10", bcrypt.DefaultCost},
}

// BenchmarkRegister measures registrations per second, each with a new
// name, from GOMAXPROCS goroutines: bcrypt plus one read and one write.
func BenchmarkRegister(b *testing.B) {
	for _, be := range benchBackends {
		for _, c := range benchCosts {
			b.Run(be.name+"/"+c.name, func(b *testing.B) {
				st := openStore(b, be.open(b), StoreOptions{})
				svc := newService(b, st, Config{BcryptCost: c.cost})
				ctx := context.Background()
				var seq atomic.Int64
				b.ReportAllocs()
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						name := fmt.Sprintf("user%d", seq.Add(1))
						if _, err := svc.Register(ctx, name, "benchmark-password"); err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
		}
	}
}

// BenchmarkLogin measures logins per second against a few accounts: one read,
// bcrypt, one session write.
func BenchmarkLogin(b *testing.B) {
	const users = 16
	for _, be := range benchBackends {
		for _, c := range benchCosts {
			b.Run(be.name+"/"+c.name, func(b *testing.B) {
				st := openStore(b, be.open(b), StoreOptions{})
				svc := newService(b, st, Config{BcryptCost: c.cost})
				ctx := context.Background()
				for i := range users {
					if _, err := svc.Register(ctx, fmt.Sprintf("user%d", i), "benchmark-password"); err != nil {
						b.Fatal(err)
					}
				}
				var seq atomic.Int64
				b.ReportAllocs()
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						name := fmt.Sprintf("user%d", seq.Add(1)%users)
						if _, _, err := svc.Login(ctx, name, "benchmark-password"); err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
		}
	}
}

// BenchmarkAuthenticate measures session checks per second: hash the token,
// two indexed reads, no bcrypt. This is the cost every authenticated web
// request pays.
func BenchmarkAuthenticate(b *testing.B) {
	const sessions = 64
	for _, be := range benchBackends {
		b.Run(be.name, func(b *testing.B) {
			st := openStore(b, be.open(b), StoreOptions{})
			svc := newService(b, st, Config{})
			ctx := context.Background()
			if _, err := svc.Register(ctx, "benchuser", "benchmark-password"); err != nil {
				b.Fatal(err)
			}
			tokens := make([]string, sessions)
			for i := range tokens {
				var err error
				if _, tokens[i], err = svc.Login(ctx, "benchuser", "benchmark-password"); err != nil {
					b.Fatal(err)
				}
			}
			var seq atomic.Int64
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := svc.Authenticate(ctx, tokens[seq.Add(1)%sessions]); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
