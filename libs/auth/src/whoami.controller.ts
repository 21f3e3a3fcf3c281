import { Controller, Get, Req } from '@nestjs/common';
import { ApiOkResponse } from '@nestjs/swagger';
import type { AuthenticatedRequest } from './api-key-authenticator';
import { WhoAmIView } from './whoami.dto';

/** Any working key may ask who it is: the tenant and scopes it acts with. */
@Controller('v1/whoami')
export class WhoAmIController {
  @Get()
  @ApiOkResponse({ type: WhoAmIView })
  whoami(@Req() request: AuthenticatedRequest): WhoAmIView {
    const principal = request.principal!;
    return { tenantId: principal.tenantId, scopes: [...principal.scopes], keyId: principal.keyId };
  }
}
