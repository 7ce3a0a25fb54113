// Package pgtest starts a private PostgreSQL cluster for a test binary: the
// server binaries from Debian's postgresql package, a data directory and a
// unix socket in a temporary directory, no TCP listener, run as an
// unprivileged user (nobody) when the tests run as root. Each test gets a
// database of its own.
//
// Use one Cluster per test binary:
//
//	var pg = pgtest.New()
//
//	func TestMain(m *testing.M) { code := m.Run(); pg.Stop(); os.Exit(code) }
//
//	func TestX(t *testing.T) { dsn := pg.Database(t); ... }
//
// The cluster starts on the first Database call. JITKEY_TEST_POSTGRES=off
// skips the tests that need it; otherwise missing binaries fail them with
// the command that installs them.
package pgtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the database/sql driver the tests use
)

// Cluster is a private PostgreSQL server, started on first use.
type Cluster struct {
	once  sync.Once
	err   error
	skip  string
	dir   string
	bin   string
	asUID []string // prefix running a command as the unprivileged user
	admin *sql.DB
	// durable keeps PostgreSQL's default durability (fsync,
	// synchronous_commit and full_page_writes on): benchmarks measure what
	// operators run. Tests turn it off, which only matters on a crash.
	durable bool
}

// New returns a cluster that starts when a test first asks for a database.
// It runs without fsync, synchronous commits or full-page writes: tests
// never crash the machine under it, and run faster.
func New() *Cluster { return &Cluster{} }

// NewDurable returns a cluster with PostgreSQL's default durability: every
// commit waits for its WAL to reach the disk. Benchmarks use it.
func NewDurable() *Cluster { return &Cluster{durable: true} }

// Database creates an empty database for t and returns its connection
// string (pgx key=value form). It skips t when JITKEY_TEST_POSTGRES=off and
// fails it when the cluster cannot start.
func (c *Cluster) Database(t testing.TB) string {
	t.Helper()
	c.once.Do(c.start)
	if c.skip != "" {
		t.Skip(c.skip)
	}
	if c.err != nil {
		t.Fatal(c.err)
	}
	name := "t_" + randomHex(8)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := c.admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("pgtest: create database: %v", err)
	}
	return c.DSN(name)
}

// DSN is the connection string of a database in the cluster.
func (c *Cluster) DSN(db string) string {
	return fmt.Sprintf("host=%s port=5432 user=postgres dbname=%s sslmode=disable", c.dir, db)
}

// Stop stops the server and removes its directory. It is a no-op if the
// cluster never started.
func (c *Cluster) Stop() {
	if c.dir == "" {
		return
	}
	if c.admin != nil {
		_ = c.admin.Close()
	}
	_ = c.run(filepath.Join(c.bin, "pg_ctl"), "stop", "-D", filepath.Join(c.dir, "data"), "-m", "immediate", "-w")
	_ = os.RemoveAll(c.dir)
}

func (c *Cluster) start() {
	if strings.EqualFold(os.Getenv("JITKEY_TEST_POSTGRES"), "off") {
		c.skip = "PostgreSQL tests skipped: JITKEY_TEST_POSTGRES=off"
		return
	}
	c.bin, c.err = serverBin("/usr/lib/postgresql/*/bin/initdb", exec.LookPath)
	if c.err != nil {
		return
	}
	c.err = c.boot()
}

// serverBin finds the newest Debian PostgreSQL server (debian is the glob of
// its initdb binaries), or one on PATH.
func serverBin(debian string, lookPath func(string) (string, error)) (string, error) {
	found, _ := filepath.Glob(debian)
	sort.Slice(found, func(i, j int) bool { return version(found[i]) > version(found[j]) })
	if len(found) > 0 {
		return filepath.Dir(found[0]), nil
	}
	if p, err := lookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", errors.New("pgtest: the PostgreSQL server binaries (initdb, pg_ctl, postgres) are not installed: " +
		"install them with `apt-get install -y postgresql` (Debian/Ubuntu; .ci/run does this), " +
		"or set JITKEY_TEST_POSTGRES=off to skip the PostgreSQL tests")
}

func version(initdb string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(initdb))))
	return v
}

func (c *Cluster) boot() error {
	dir, err := os.MkdirTemp("", "jitkey-pg-")
	if err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	c.dir = dir
	if os.Geteuid() == 0 {
		// PostgreSQL refuses to run as root.
		if err := c.dropPrivileges(); err != nil {
			return err
		}
	}
	data := filepath.Join(dir, "data")
	if err := c.run(filepath.Join(c.bin, "initdb"), "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8",
		"--locale=C", "--no-sync", "--no-instructions"); err != nil {
		return err
	}
	args := []string{"-k", dir, "-c", "listen_addresses=", "-p", "5432", "-c", "max_connections=300"}
	if !c.durable {
		args = append(args, "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	}
	opts := strings.Join(args, " ")
	if err := c.run(filepath.Join(c.bin, "pg_ctl"), "start", "-D", data, "-w", "-t", "60", "-l", filepath.Join(dir, "log"), "-o", opts); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "log"))
		return fmt.Errorf("%w\nserver log:\n%s", err, log)
	}
	if err := c.watch(data); err != nil {
		c.Stop()
		return err
	}
	c.admin, err = sql.Open("pgx", c.DSN("postgres"))
	if err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	return nil
}

// watchScript waits for the test binary ($1) to end, however it ends, then
// stops the server of data directory $3 with pg_ctl ($2) and removes the
// cluster's directory ($4). It checks /proc, not kill -0: as nobody it may
// not signal a test binary run as root.
const watchScript = `while [ -d "/proc/$1" ]; do sleep 0.5; done
"$2" stop -D "$3" -m immediate >/dev/null 2>&1
rm -rf "$4"`

// watch starts a watchdog, as the server's user, that stops the server
// and removes its directory once this test binary has ended: a binary that
// panics, times out or is killed never runs Stop, and its server would
// otherwise run on. After Stop the watchdog finds nothing left to do.
func (c *Cluster) watch(data string) error {
	argv := append(append([]string{}, c.asUID...), "/bin/sh", "-c", watchScript, "pgtest-watch",
		strconv.Itoa(os.Getpid()), filepath.Join(c.bin, "pg_ctl"), data, c.dir)
	// #nosec G204 -- /bin/sh with a fixed script; the arguments are ours.
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = os.TempDir()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("pgtest: start the server's watchdog: %w", err)
	}
	go func() { _ = cmd.Wait() }()
	return nil
}

// dropPrivileges hands the directory to nobody and runs the server
// commands as nobody through runuser.
func (c *Cluster) dropPrivileges() error {
	u, err := user.Lookup("nobody")
	if err != nil {
		return fmt.Errorf("pgtest: running as root, PostgreSQL needs an unprivileged user: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(c.dir, uid, gid); err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	runuser, err := exec.LookPath("runuser")
	if err != nil {
		return errors.New("pgtest: running as root needs runuser (util-linux) to start PostgreSQL as nobody")
	}
	c.asUID = []string{runuser, "-u", "nobody", "--"}
	return nil
}

func (c *Cluster) run(name string, args ...string) error {
	argv := append(append(append([]string{}, c.asUID...), name), args...)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// #nosec G204 -- the PostgreSQL binaries found above, with fixed arguments.
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = c.dir
	cmd.WaitDelay = 5 * time.Second // the server it starts must not hold our pipes
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("pgtest: %s: %w\n%s", filepath.Base(name), err, out)
	}
	return nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// postmasterPID is the PID of the server of the cluster in dir, from the
// first line of its postmaster.pid.
func postmasterPID(dir string) (int, error) {
	b, err := os.ReadFile(filepath.Join(dir, "data", "postmaster.pid"))
	if err != nil {
		return 0, fmt.Errorf("pgtest: %w", err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	return strconv.Atoi(strings.TrimSpace(line))
}
