import { Controller, Get, HttpCode, HttpStatus, Inject, Post } from '@nestjs/common';
import { ApiOperation, ApiResponse } from '@nestjs/swagger';
import { CurrentTenant, RequireScopes } from '@conveyor/http';
import { CallbackEndpoints } from '../endpoints/callback-endpoints.service';
import type { EndpointWithSecret } from '../signing/endpoint-secrets';
import { WEBHOOK_CLOCK, type Clock } from '../webhook-clock';
import { CallbackSecretView, RotatedSecretView } from './webhook-views.dto';

/**
 * The secret per-task callbacks are signed with (one per tenant). Unlike an endpoint's, it can
 * be read again: callbacks have no registration step that could show it once.
 */
@Controller('v1/webhooks/callbacks')
export class WebhookCallbacksController {
  constructor(
    private readonly callbacks: CallbackEndpoints,
    @Inject(WEBHOOK_CLOCK) private readonly clock: Clock,
  ) {}

  @Get()
  @RequireScopes('tasks:write')
  @ApiResponse({ status: 200, type: CallbackSecretView, description: "The tenant's callback signing secret (made on first use)" })
  @ApiResponse({ status: 503, description: 'WEBHOOK_SECRET_KEY_MISSING / WEBHOOK_SECRET_UNREADABLE: the server lacks a key' })
  @ApiOperation({ operationId: 'getCallbackSecret' })
  async get(@CurrentTenant() tenantId: string): Promise<CallbackSecretView> {
    return this.view(await this.callbacks.get(tenantId));
  }

  @Post('rotate-secret')
  @RequireScopes('tasks:write')
  @HttpCode(HttpStatus.OK)
  @ApiResponse({ status: 200, type: RotatedSecretView, description: 'A new callback secret; both sign until previousSecretValidUntil' })
  @ApiResponse({ status: 503, description: 'WEBHOOK_SECRET_KEY_MISSING / WEBHOOK_SECRET_UNREADABLE: the server lacks a key' })
  @ApiOperation({ operationId: 'rotateCallbackSecret' })
  async rotate(@CurrentTenant() tenantId: string): Promise<RotatedSecretView> {
    const { endpoint, secret } = await this.callbacks.rotateSecret(tenantId);
    return { secret, previousSecretValidUntil: endpoint.previousSecretUntil!.toISOString() };
  }

  private view({ endpoint, secret }: EndpointWithSecret): CallbackSecretView {
    const grace = endpoint.previousSecretUntil && endpoint.previousSecretUntil.getTime() > this.clock.now() ? endpoint.previousSecretUntil.toISOString() : null;
    return { secret, previousSecretValidUntil: grace, endpointId: endpoint.id };
  }
}
