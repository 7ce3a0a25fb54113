package cli

import (
	"context"
	"log/slog"
)

// Served is a running broker, for the tests of jitkey serve.
type Served = served

// StartServe runs jitkey serve's wiring with the configuration at cfgPath,
// logging JSON to env.Stderr; ready is called once it listens.
func StartServe(ctx context.Context, env Env, cfgPath string, ready func(Served)) error {
	cfg, err := loadServeConfig(env, cfgPath)
	if err != nil {
		return err
	}
	return serve(ctx, env, cfg, slog.New(slog.NewJSONHandler(env.Stderr, &slog.HandlerOptions{Level: cfg.level()})), ready)
}
