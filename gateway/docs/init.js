// Swagger UI over the document the same gateway serves. Kept out of
// index.html so the page runs under a Content-Security-Policy without
// 'unsafe-inline'.
window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  // "Authorize" takes the API key; keys stay in this browser tab only.
  persistAuthorization: false,
});
