package ghsim

import (
	"strings"
	"testing"
	"time"
)

func FuzzLoadScenario(f *testing.F) {
	f.Add("orgs: [{login: acme, repos: [{name: a, deploy_keys: [{title: k, created_at: -3d}]}]}]\n")
	f.Add(`{"apps":[{"slug":"x"}],"installations":[{"app":"x","account":"acme"}]}`)
	f.Add("now: -1d\n")
	f.Fuzz(func(t *testing.T, doc string) {
		sc, err := LoadScenario(strings.NewReader(doc))
		if err != nil {
			return
		}
		if len(doc) > 2000 { // applying generates keys for every App; keep runs fast
			return
		}
		_ = New(Options{Clock: NewClock(time.Unix(1_800_000_000, 0))}).Apply(sc) // must not panic
	})
}

func FuzzVerifyAppJWT(f *testing.F) {
	sim := New(Options{Clock: NewClock(time.Unix(1_800_000_000, 0))})
	app := sim.AddApp(AppSpec{Slug: "a"})
	good, err := SignAppJWT(app.PrivateKey, "1001", time.Unix(1_800_000_000-30, 0), time.Unix(1_800_000_000+300, 0))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add("eyJhbGciOiJub25lIn0.eyJpc3MiOiIxMDAxIn0.")
	f.Add("a.b.c")
	f.Fuzz(func(t *testing.T, jwt string) {
		if strings.Count(jwt, ".") != 2 {
			return
		}
		got, reason := sim.verifyAppJWT(jwt)
		if got == nil && reason == "" {
			t.Fatal("refused without a reason")
		}
		if got != nil && jwt != good && !strings.HasPrefix(jwt, strings.Join(strings.Split(good, ".")[:2], ".")) {
			t.Fatalf("accepted a JWT with another header and payload")
		}
	})
}

func FuzzParseWhen(f *testing.F) {
	for _, s := range []string{"-400d", "+3h", "2026-01-01T00:00:00Z", "", "-d", "+99999999999d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		_, _ = parseWhen(v, time.Unix(0, 0))
	})
}
