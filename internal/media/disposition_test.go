package media

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseDisposition(t *testing.T) {
	tests := []struct {
		in   string
		want disposition
		err  bool
	}{
		{in: `form-data; name="a"`, want: disposition{typ: "form-data", name: "a", hasName: true}},
		{in: `Form-Data;NAME=a;filename=b.wav;`, want: disposition{typ: "form-data", name: "a", hasName: true, filename: "b.wav", hasFilename: true}},
		{in: `form-data; name="a\"b\\c"; filename="x y.mp3"`, want: disposition{typ: "form-data", name: `a"b\c`, hasName: true, filename: "x y.mp3", hasFilename: true}},
		{in: `form-data; name=image[]; other="x;y"`, want: disposition{typ: "form-data", name: "image[]", hasName: true}},
		{in: `form-data; filename*=UTF-8'en'%F0%9F%A6%8A.wav`, want: disposition{typ: "form-data", filename: "🦊.wav", hasFilename: true}},
		{in: `form-data; filename*="utf-8''a%20b"; filename="fallback"`, want: disposition{typ: "form-data", filename: "a b", hasFilename: true}},
		{in: `form-data; filename*=koi8-r''%C1`, err: true},
		{in: `form-data; filename*=UTF-8''%G1`, err: true},
		{in: `form-data; filename*=nonsense`, err: true},
		{in: `form-data; name`, err: true},
		{in: `form-data; name="a" x`, err: true},
		{in: `; name=a`, err: true},
		{in: `form-data; filename=a; filename=b`, err: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			d, err := parseDisposition(tt.in)
			if tt.err {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, d)
		})
	}
}
