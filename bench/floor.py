"""The floor: a bare Starlette endpoint with a fixed small JSON body, served like the gateway."""

from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

BODY = b'{"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],"totalResults":0}'


async def floor(request):
    return Response(BODY, media_type="application/scim+json")


app = Starlette(routes=[Route("/floor", floor)])
