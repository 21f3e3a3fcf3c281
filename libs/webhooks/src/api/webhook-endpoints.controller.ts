import { Body, Controller, Delete, Get, HttpCode, HttpStatus, Inject, Param, ParseUUIDPipe, Patch, Post, Query } from '@nestjs/common';
import { ApiOperation, ApiResponse } from '@nestjs/swagger';
import { CurrentTenant, decodeCursor, encodeCursor, RequireScopes } from '@conveyor/http';
import { WebhookDeliveriesService } from '../endpoints/webhook-deliveries.service';
import { endpointNotFound, WebhookEndpointsService } from '../endpoints/webhook-endpoints.service';
import { WEBHOOK_CLOCK, type Clock } from '../webhook-clock';
import { CreateWebhookEndpointDto, ListDeliveriesQuery, ListWebhookEndpointsQuery, RedeliverFailedDto, UpdateWebhookEndpointDto } from './webhook-endpoint.dto';
import {
  RedeliveredView,
  RotatedSecretView,
  toDeliveryView,
  toEndpointView,
  WebhookDeliveryListView,
  WebhookDeliveryView,
  WebhookEndpointCreatedView,
  WebhookEndpointListView,
  WebhookEndpointView,
} from './webhook-views.dto';

const DEFAULT_PAGE = 50;

/** Unknown, malformed and other tenants' ids are all "not found". */
const EndpointId = () => Param('id', new ParseUUIDPipe({ exceptionFactory: () => endpointNotFound() }));

@Controller('v1/webhooks/endpoints')
export class WebhookEndpointsController {
  constructor(
    private readonly endpoints: WebhookEndpointsService,
    private readonly deliveries: WebhookDeliveriesService,
    @Inject(WEBHOOK_CLOCK) private readonly clock: Clock,
  ) {}

  @Post()
  @RequireScopes('tasks:write')
  @ApiResponse({ status: 201, type: WebhookEndpointCreatedView, description: 'Created; `secret` is shown this once' })
  @ApiResponse({ status: 400, description: 'WEBHOOK_URL_FORBIDDEN (SSRF guard), UNKNOWN_EVENT_TYPE, VALIDATION_FAILED' })
  @ApiResponse({ status: 503, description: 'WEBHOOK_SECRET_KEY_MISSING: a production server without WEBHOOK_SECRET_KEY stores no secret' })
  @ApiOperation({ operationId: 'createWebhookEndpoint' })
  async create(@CurrentTenant() tenantId: string, @Body() body: CreateWebhookEndpointDto): Promise<WebhookEndpointCreatedView> {
    const { endpoint, secret } = await this.endpoints.create(tenantId, body);
    return { ...toEndpointView(endpoint, this.clock.now()), secret };
  }

  @Get()
  @RequireScopes('tasks:read')
  @ApiResponse({ status: 200, type: WebhookEndpointListView })
  @ApiOperation({ operationId: 'listWebhookEndpoints' })
  async list(@CurrentTenant() tenantId: string, @Query() query: ListWebhookEndpointsQuery): Promise<WebhookEndpointListView> {
    const limit = query.limit ?? DEFAULT_PAGE;
    const rows = await this.endpoints.list(tenantId, limit + 1, query.cursor ? decodeCursor(query.cursor) : undefined);
    const page = rows.slice(0, limit);
    return {
      endpoints: page.map((row) => toEndpointView(row, this.clock.now())),
      nextCursor: rows.length > limit ? encodeCursor(page[page.length - 1].id) : null,
    };
  }

  @Get(':id')
  @RequireScopes('tasks:read')
  @ApiResponse({ status: 200, type: WebhookEndpointView })
  @ApiOperation({ operationId: 'getWebhookEndpoint' })
  async get(@CurrentTenant() tenantId: string, @EndpointId() id: string): Promise<WebhookEndpointView> {
    return toEndpointView(await this.endpoints.get(tenantId, id), this.clock.now());
  }

  @Patch(':id')
  @RequireScopes('tasks:write')
  @ApiResponse({ status: 200, type: WebhookEndpointView, description: 'Changed; enabling a disabled endpoint clears its failure record' })
  @ApiResponse({ status: 400, description: 'WEBHOOK_URL_FORBIDDEN, UNKNOWN_EVENT_TYPE, VALIDATION_FAILED' })
  @ApiOperation({ operationId: 'updateWebhookEndpoint' })
  async update(@CurrentTenant() tenantId: string, @EndpointId() id: string, @Body() body: UpdateWebhookEndpointDto): Promise<WebhookEndpointView> {
    return toEndpointView(await this.endpoints.update(tenantId, id, body), this.clock.now());
  }

  @Delete(':id')
  @RequireScopes('tasks:write')
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiResponse({ status: 204, description: 'Deleted; deliveries still pending for it end as failed' })
  @ApiOperation({ operationId: 'deleteWebhookEndpoint' })
  async remove(@CurrentTenant() tenantId: string, @EndpointId() id: string): Promise<void> {
    await this.endpoints.remove(tenantId, id);
  }

  @Post(':id/rotate-secret')
  @RequireScopes('tasks:write')
  @HttpCode(HttpStatus.OK)
  @ApiResponse({ status: 200, type: RotatedSecretView, description: 'The new secret, shown this once; both sign until previousSecretValidUntil' })
  @ApiResponse({ status: 503, description: 'WEBHOOK_SECRET_KEY_MISSING / WEBHOOK_SECRET_UNREADABLE: the server lacks a key' })
  @ApiOperation({ operationId: 'rotateWebhookEndpointSecret' })
  async rotate(@CurrentTenant() tenantId: string, @EndpointId() id: string): Promise<RotatedSecretView> {
    const { endpoint, secret } = await this.endpoints.rotateSecret(tenantId, id);
    return { secret, previousSecretValidUntil: endpoint.previousSecretUntil!.toISOString() };
  }

  @Post(':id/test')
  @RequireScopes('tasks:write')
  @HttpCode(HttpStatus.ACCEPTED)
  @ApiResponse({ status: 202, type: WebhookDeliveryView, description: 'A `ping` event queued for this endpoint; follow it in the delivery log' })
  @ApiResponse({ status: 409, description: 'WEBHOOK_ENDPOINT_DISABLED' })
  @ApiOperation({ operationId: 'testWebhookEndpoint' })
  async test(@CurrentTenant() tenantId: string, @EndpointId() id: string): Promise<WebhookDeliveryView> {
    return toDeliveryView(await this.endpoints.sendTest(tenantId, id));
  }

  @Get(':id/deliveries')
  @RequireScopes('tasks:read')
  @ApiResponse({ status: 200, type: WebhookDeliveryListView, description: 'Newest first; filter by status, eventType, taskId' })
  @ApiOperation({ operationId: 'listWebhookDeliveries' })
  async listDeliveries(@CurrentTenant() tenantId: string, @EndpointId() id: string, @Query() query: ListDeliveriesQuery): Promise<WebhookDeliveryListView> {
    const limit = query.limit ?? DEFAULT_PAGE;
    const rows = await this.deliveries.list(tenantId, id, {
      status: query.status,
      eventType: query.eventType,
      taskId: query.taskId,
      before: query.cursor ? decodeCursor(query.cursor) : undefined,
      limit: limit + 1,
    });
    const page = rows.slice(0, limit);
    return { deliveries: page.map(toDeliveryView), nextCursor: rows.length > limit ? encodeCursor(page[page.length - 1].id) : null };
  }

  @Post(':id/redeliver')
  @RequireScopes('tasks:write')
  @HttpCode(HttpStatus.ACCEPTED)
  @ApiResponse({ status: 202, type: RedeliveredView, description: 'Every failed delivery created since `since` starts a new round of attempts' })
  @ApiOperation({ operationId: 'redeliverFailedWebhookDeliveries' })
  async redeliverFailed(@CurrentTenant() tenantId: string, @EndpointId() id: string, @Body() body: RedeliverFailedDto): Promise<RedeliveredView> {
    return { redelivered: await this.deliveries.redeliverFailed(tenantId, id, new Date(body.since)) };
  }
}
