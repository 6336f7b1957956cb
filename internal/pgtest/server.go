package pgtest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// defaultLibDir is where Debian installs PostgreSQL: one directory per major
// version, each with a bin/ directory.
const defaultLibDir = "/usr/lib/postgresql"

// Timeouts for the private server.
const (
	readyTimeout = 60 * time.Second // initdb done, until it accepts connections
	stopTimeout  = 30 * time.Second // from SIGINT until it has exited, before SIGKILL
	startTries   = 3                // the free port may be taken before postgres binds it
)

// binaries are the paths of the programs needed to run a server.
type binaries struct {
	initdb, postgres string
}

// findBinaries looks for initdb and postgres in libDir/*/bin, taking the
// highest major version, then on PATH.
func findBinaries(libDir string) (binaries, bool) {
	dirs, _ := filepath.Glob(filepath.Join(libDir, "*", "bin"))
	// Sort by numeric major version, highest first ("9.6" < "15" < "16").
	slices.SortFunc(dirs, func(a, b string) int {
		va, vb := majorVersion(a), majorVersion(b)
		switch {
		case va > vb:
			return -1
		case va < vb:
			return 1
		}
		return strings.Compare(b, a)
	})
	for _, d := range dirs {
		b := binaries{filepath.Join(d, "initdb"), filepath.Join(d, "postgres")}
		if executable(b.initdb) && executable(b.postgres) {
			return b, true
		}
	}
	initdb, err1 := exec.LookPath("initdb")
	postgres, err2 := exec.LookPath("postgres")
	if err1 == nil && err2 == nil {
		return binaries{initdb, postgres}, true
	}
	return binaries{}, false
}

// majorVersion parses the version directory above a bin directory
// (".../15/bin" is 15, ".../9.6/bin" is 9.6), or returns -1.
func majorVersion(binDir string) float64 {
	v, err := strconv.ParseFloat(filepath.Base(filepath.Dir(binDir)), 64)
	if err != nil {
		return -1
	}
	return v
}

func executable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

// server is a private PostgreSQL server. Its fields are set by startServer
// and read-only afterwards, except through stop.
type server struct {
	dir      string    // temporary directory: data/, the socket, postgres.log
	adminURL string    // superuser URL to the "postgres" database over TCP
	cmd      *exec.Cmd // the postmaster
	exited   chan struct{}
	waitErr  error // set before exited is closed
}

// startServer initialises a data directory and starts postgres on it,
// retrying with a new port if the chosen one was taken in the meantime.
func startServer(bins binaries) (*server, error) {
	cred, err := serverCredential()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrStart, err)
	}
	dir, err := os.MkdirTemp("", "wharf-pgtest-")
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrStart, err)
	}
	// The Unix socket path must fit in sockaddr_un (108 bytes).
	if len(dir) > 80 {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("%w: temporary directory %s is too long for a Unix socket path; set TMPDIR=/tmp", ErrStart, dir)
	}
	if err := chownTo(dir, cred); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("%w: %w", ErrStart, err)
	}
	data := filepath.Join(dir, "data")

	initdb := exec.Command(bins.initdb,
		"--pgdata="+data,
		"--username=postgres",
		"--auth=trust",
		"--encoding=UTF8",
		"--no-locale",
		"--no-sync",
	)
	initdb.Dir = dir // postgres tools fail if they cannot read their working directory
	initdb.SysProcAttr = toolAttr(cred)
	if out, err := initdb.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("%w: initdb: %w\n%s", ErrStart, err, out)
	}

	var lastErr error
	for range startTries {
		s, err := runPostgres(bins, cred, dir, data)
		if err == nil {
			return s, nil
		}
		lastErr = err
	}
	os.RemoveAll(dir)
	return nil, fmt.Errorf("%w: %w", ErrStart, lastErr)
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// runPostgres starts the postmaster on data and waits until it accepts
// connections.
func runPostgres(bins binaries, cred *credential, dir, data string) (*server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	logPath := filepath.Join(dir, "postgres.log")
	logFile, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, err
	}
	defer logFile.Close() // the child has its own descriptor

	cmd := exec.Command(bins.postgres,
		"-D", data,
		"-k", dir,
		"-h", "127.0.0.1",
		"-p", strconv.Itoa(port),
		// Throwaway data: durability buys nothing and costs time.
		"-c", "fsync=off",
		"-c", "synchronous_commit=off",
		"-c", "full_page_writes=off",
		"-c", "max_connections=200",
		"-c", "shared_buffers=32MB",
		"-c", "logging_collector=off",
	)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = serverAttr(cred)
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &server{
		dir:      dir,
		adminURL: fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port),
		cmd:      cmd,
		exited:   make(chan struct{}),
	}
	go func() {
		s.waitErr = cmd.Wait()
		close(s.exited)
	}()

	deadline := time.Now().Add(readyTimeout)
	for {
		err := s.ping()
		if err == nil {
			return s, nil
		}
		select {
		case <-s.exited:
			return nil, fmt.Errorf("postgres exited (%v) during start-up:\n%s", s.waitErr, tail(logPath))
		default:
		}
		if time.Now().After(deadline) {
			s.shutdown()
			return nil, fmt.Errorf("postgres did not accept connections within %v (%v):\n%s", readyTimeout, err, tail(logPath))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// ping connects to the server once.
func (s *server) ping() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, s.adminURL)
	if err != nil {
		return err
	}
	return conn.Close(ctx)
}

// stop shuts the server down and removes its directory.
func (s *server) stop() {
	s.shutdown()
	os.RemoveAll(s.dir)
}

// shutdown stops the postmaster (fast shutdown: sessions are disconnected),
// kills it if it takes longer than stopTimeout, and waits until it has
// exited, so that the goroutine waiting for it has ended too.
func (s *server) shutdown() {
	interrupt(s.cmd.Process)
	t := time.NewTimer(stopTimeout)
	defer t.Stop()
	select {
	case <-s.exited:
	case <-t.C:
		s.cmd.Process.Kill()
		<-s.exited
	}
}

// tail returns the last lines of the file at path, for error messages.
func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	const max = 4000
	if len(b) > max {
		b = b[len(b)-max:]
	}
	return string(b)
}
