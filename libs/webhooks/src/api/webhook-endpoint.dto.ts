import { Type } from 'class-transformer';
import { ArrayMaxSize, ArrayMinSize, IsArray, IsBoolean, IsIn, IsISO8601, IsOptional, IsString, IsUUID, Matches, MaxLength } from 'class-validator';
import { NestedDto, PageQuery } from '@conveyor/http';
import { DELIVERY_STATUSES, type DeliveryStatus } from '../store/webhook-delivery.entity';

const EVENT_PATTERN = /^(\*|[a-z]+\.(\*|[a-z_.]+))$/;

/** Which tasks an endpoint hears of, beyond the event types. */
export class EndpointFilterDto {
  /** Only tasks of these types. */
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(50)
  @IsString({ each: true })
  @MaxLength(128, { each: true })
  taskTypes?: string[];

  /** Only tasks carrying at least one of these tags. */
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(50)
  @IsString({ each: true })
  @MaxLength(64, { each: true })
  tags?: string[];
}

const EVENTS_MESSAGE = { each: true, message: 'each event must look like task.completed, task.* or *' };

/** The fields create and update share. (Create does not extend Update: class-validator would inherit its @IsOptional.) */
class EndpointOptionsDto {
  @IsOptional()
  @NestedDto(() => EndpointFilterDto, {})
  filter?: EndpointFilterDto | null;

  @IsOptional()
  @IsString()
  @MaxLength(500)
  description?: string | null;

  @IsOptional()
  @IsBoolean()
  enabled?: boolean;
}

/** Body of `POST /v1/webhooks/endpoints`. */
export class CreateWebhookEndpointDto extends EndpointOptionsDto {
  /** https (http only where WEBHOOK_ALLOW_HTTP=true); checked by the SSRF guard now and at every delivery. */
  @IsString()
  @MaxLength(2048)
  url: string;

  /** Event types (`task.completed`), family wildcards (`task.*`) or `*`. */
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(50)
  @Matches(EVENT_PATTERN, EVENTS_MESSAGE)
  events: string[];
}

/** Body of `PATCH /v1/webhooks/endpoints/:id`: any field; `null` clears filter and description. */
export class UpdateWebhookEndpointDto extends EndpointOptionsDto {
  @IsOptional()
  @IsString()
  @MaxLength(2048)
  url?: string;

  @IsOptional()
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(50)
  @Matches(EVENT_PATTERN, EVENTS_MESSAGE)
  events?: string[];
}

export class ListWebhookEndpointsQuery extends PageQuery {}

export class ListDeliveriesQuery extends PageQuery {
  @IsOptional()
  @IsIn(DELIVERY_STATUSES)
  status?: DeliveryStatus;

  @IsOptional()
  @IsString()
  @MaxLength(64)
  eventType?: string;

  @IsOptional()
  @IsUUID()
  taskId?: string;
}

/** Body of `POST /v1/webhooks/endpoints/:id/redeliver`: every failed delivery created since then. */
export class RedeliverFailedDto {
  /** RFC 3339. */
  @IsISO8601({ strict: true })
  @Type(() => String)
  since: string;
}
