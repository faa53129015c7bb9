package rest

import (
	"context"
	"encoding/json"
	"net/http"
)

// OpenAPIPath is where, under Prefix, the handler serves Config.OpenAPI
// (GET /1.1/openapi.json, without authentication).
const OpenAPIPath = "openapi.json"

// openAPI answers the OpenAPI document, or 404 when none is configured.
func (h *Handler) openAPI(context.Context, *request) (int, any, error) {
	if len(h.cfg.OpenAPI) == 0 {
		return 0, nil, errorf(http.StatusNotFound, CodeNoEndpoint, "no OpenAPI document configured")
	}
	return http.StatusOK, json.RawMessage(h.cfg.OpenAPI), nil
}
