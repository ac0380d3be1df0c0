package client

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/proxide/proxide/internal/admin/api"
)

// Loops runs `proxide loops [CLIENT] [--limit N] [--cursor C]` and `proxide
// loops clear CLIENT` (args start after "loops"). env reads PROXIDE_ADMIN_ADDR
// and PROXIDE_ADMIN_KEY (nil: os.Getenv). Errors of the API come back as
// *APIError, command-line mistakes wrap ErrUsage.
func Loops(ctx context.Context, args []string, stdout, stderr io.Writer, env func(string) string) error {
	fs, c := newFlags("loops", env)
	limit := fs.Int("limit", 0, "events per page")
	cursor := fs.String("cursor", "", "next page")
	pos, err := parseArgs(fs, args)
	if err != nil {
		if help, err := handleParse(err, LoopsUsage, stdout, stderr); help || err != nil {
			return err
		}
	}
	if len(pos) > 0 && pos[0] == "help" {
		_, _ = io.WriteString(stdout, LoopsUsage)
		return nil
	}
	if len(pos) > 0 && pos[0] == "clear" {
		switch {
		case len(pos) != 2:
			return usageError(stderr, LoopsUsage, "loops clear: want exactly one CLIENT, got %d", len(pos)-1)
		case *limit != 0 || *cursor != "":
			return usageError(stderr, LoopsUsage, "loops clear: --limit and --cursor are for listing")
		}
		return loopsClear(ctx, c, clientArg(pos[1]), stdout)
	}
	if len(pos) > 1 {
		return usageError(stderr, LoopsUsage, "loops: at most one CLIENT, got %d", len(pos))
	}
	id := ""
	if len(pos) == 1 {
		id = clientArg(pos[0])
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	data, _, err := cl.Do(ctx, http.MethodGet, "/v1/loops", loopsQuery(id, *limit, *cursor), nil)
	if err != nil {
		return err
	}
	if c.json {
		_, err = stdout.Write(data)
		return err
	}
	var page api.LoopListView
	if err := decode(data, &page); err != nil {
		return err
	}
	if len(page.Loops) == 0 && *cursor == "" {
		if id == "" {
			_, err = fmt.Fprintln(stdout, "no loop events")
		} else {
			_, err = fmt.Fprintf(stdout, "no loop events for %s\n", cleanCell(id))
		}
		return err
	}
	if err := writeLoops(stdout, page.Loops, true); err != nil {
		return err
	}
	if page.NextCursor != "" {
		noun := "events"
		if len(page.Loops) == 1 {
			noun = "event"
		}
		_, err = fmt.Fprintf(stderr, "%d %s shown; next page: --cursor %s\n", len(page.Loops), noun, page.NextCursor)
	}
	return err
}

// clientArg strips the optional "client:" of a CLIENT argument.
func clientArg(s string) string { return strings.TrimPrefix(s, "client:") }

func loopsClear(ctx context.Context, c *common, id string, stdout io.Writer) error {
	cl, err := c.client()
	if err != nil {
		return err
	}
	data, _, err := cl.Do(ctx, http.MethodDelete, "/v1/loops/"+PathEscape(id), nil, nil)
	if err != nil {
		return err
	}
	if c.json {
		_, err = stdout.Write(data)
		return err
	}
	var v api.ClearLoopView
	if err := decode(data, &v); err != nil {
		return err
	}
	if v.Cleared {
		_, err = fmt.Fprintf(stdout, "cleared the loop state of %s: its cooldown has ended\n", cleanCell(v.ClientID))
	} else {
		_, err = fmt.Fprintf(stdout, "%s had no loop state to clear\n", cleanCell(v.ClientID))
	}
	return err
}
