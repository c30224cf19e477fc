// Starts Swagger UI on /docs. Kept out of index.html so that a
// Content-Security-Policy without 'unsafe-inline' scripts can serve the page.
window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,            // /docs#/storage opens the storage tag
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    validatorUrl: null,           // no calls to an outside validator
    docExpansion: "list",
    defaultModelsExpandDepth: 1,
    displayOperationId: false,
    displayRequestDuration: true,
    persistAuthorization: false,  // never keep a token in localStorage
    tryItOutEnabled: false,
    supportedSubmitMethods: ["get", "head", "post", "delete"]
  });
});
