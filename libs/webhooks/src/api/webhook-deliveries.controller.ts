import { Controller, Get, HttpCode, HttpStatus, Param, ParseUUIDPipe, Post } from '@nestjs/common';
import { ApiOperation, ApiResponse } from '@nestjs/swagger';
import { CurrentTenant, RequireScopes } from '@conveyor/http';
import { deliveryNotFound, WebhookDeliveriesService } from '../endpoints/webhook-deliveries.service';
import { toDeliveryDetailView, toDeliveryView, WebhookDeliveryDetailView, WebhookDeliveryView } from './webhook-views.dto';

const DeliveryId = () => Param('id', new ParseUUIDPipe({ exceptionFactory: () => deliveryNotFound() }));

@Controller('v1/webhooks/deliveries')
export class WebhookDeliveriesController {
  constructor(private readonly deliveries: WebhookDeliveriesService) {}

  @Get(':id')
  @RequireScopes('tasks:read')
  @ApiResponse({ status: 200, type: WebhookDeliveryDetailView, description: 'The delivery, the event as sent, and every attempt' })
  @ApiOperation({ operationId: 'getWebhookDelivery' })
  async get(@CurrentTenant() tenantId: string, @DeliveryId() id: string): Promise<WebhookDeliveryDetailView> {
    const { delivery, event, attempts } = await this.deliveries.get(tenantId, id);
    return toDeliveryDetailView(delivery, event, attempts);
  }

  @Post(':id/redeliver')
  @RequireScopes('tasks:write')
  @HttpCode(HttpStatus.ACCEPTED)
  @ApiResponse({ status: 202, type: WebhookDeliveryView, description: 'A new round of attempts, starting now (same event id)' })
  @ApiResponse({ status: 409, description: 'WEBHOOK_DELIVERY_PENDING: still under way' })
  @ApiOperation({ operationId: 'redeliverWebhookDelivery' })
  async redeliver(@CurrentTenant() tenantId: string, @DeliveryId() id: string): Promise<WebhookDeliveryView> {
    return toDeliveryView(await this.deliveries.redeliver(tenantId, id));
  }
}
