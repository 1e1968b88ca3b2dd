"""/docs (Swagger UI) and /redoc, served entirely by the service: FastAPI's
own pages load their scripts from a CDN, and are blank where the internet
cannot be reached (an office network, an air-gapped cluster).

The assets come from the `fastapi-offline` package (PyPI, MIT), which ships
Swagger UI 5 and ReDoc 2 as files; the pages are FastAPI's own, pointed at
them. Nothing on either page refers to another host: no CDN, no web fonts,
no Swagger validator badge."""

from importlib.resources import files

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS_PATH = "/docs/assets"
ASSETS = files("fastapi_offline") / "static"
SWAGGER_UI_PARAMETERS = {
    # The default sends the document to validator.swagger.io for a badge.
    "validatorUrl": None,
    "deepLinking": True,
    "persistAuthorization": True,
}


def install_docs(app: FastAPI) -> None:
    """The documentation pages and their assets. The app is built with
    `docs_url=None, redoc_url=None`, so FastAPI adds no CDN pages itself."""
    app.mount(ASSETS_PATH, StaticFiles(directory=str(ASSETS)), name="docs-assets")
    redirect_url = "/docs/oauth2-redirect"

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} - Swagger UI",
            oauth2_redirect_url=f"{root}{redirect_url}",
            swagger_js_url=f"{root}{ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS_PATH}/favicon.png",
            swagger_ui_parameters=SWAGGER_UI_PARAMETERS,
        )

    @app.get(redirect_url, include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_redoc_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}{ASSETS_PATH}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{ASSETS_PATH}/favicon.png",
            with_google_fonts=False,
        )
